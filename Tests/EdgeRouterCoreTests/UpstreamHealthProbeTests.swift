@testable import EdgeRouterCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The active health check of an HTTP upstream against real servers on loopback (``TestUpstreamServer``):
/// a probe's verdict, an address turning unhealthy and healthy again with the requests following, and the
/// probes starting and stopping with the route table.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamHealthProbeTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    static let check = UpstreamHealthCheck(path: "/status?code=200", interval: .seconds(1), timeout: .milliseconds(500), healthyAfter: 1, unhealthyAfter: 1)

    /// Waits until `condition` holds, for up to 15 s.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func aProbePassesOnA2xxOr3xxAnswerInTimeAndFailsOtherwise() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let dead = try await TestUpstreamServer.start()
        let deadAddress = UpstreamAddress(host: "127.0.0.1", port: dead.port)
        dead.stop()
        let address = UpstreamAddress(host: "127.0.0.1", port: server.port)
        let probe = { (address: UpstreamAddress, path: String) in
            await UpstreamHealthProbe.probe(address, path: path, timeout: .milliseconds(500), on: self.eventLoop)
        }
        #expect(await probe(address, "/status?code=200"))
        #expect(await probe(address, "/status?code=301"))
        #expect(await !probe(address, "/status?code=500"))
        #expect(await !probe(address, "/no-such-path"), "404")
        #expect(await !probe(address, "/slow?ms=2000"), "no answer within the timeout")
        #expect(await !probe(address, "/drop"), "closed without an answer")
        #expect(await !probe(deadAddress, "/status?code=200"), "nothing listening")
        #expect(server.connections == 6, "each probe over a connection of its own")
    }

    @Test func anAddressTheProbeFindsUnhealthyGetsNoRequestsUntilItIsHealthyAgain() async throws {
        let flaky = try await TestUpstreamServer.start()
        let steady = try await TestUpstreamServer.start()
        defer { flaky.stop(); steady.stop() }
        let upstream = HTTPUpstream(
            addresses: [flaky.port, steady.port].map { UpstreamAddress(host: "127.0.0.1", port: $0) },
            timeouts: .init(connect: .seconds(2), firstByte: .seconds(5), total: .seconds(10)),
            maximumBodyBytes: 1 << 20, ejectAfter: 100, ejection: .seconds(30), eventLoops: [self.eventLoop]
        )
        defer { upstream.shutDown() }
        let probing = Task { await UpstreamHealthProbe(check: Self.check, upstream: upstream, eventLoop: self.eventLoop).run() }
        defer { probing.cancel() }
        let get = { () async throws -> String in
            String(buffer: try await upstream.forward(method: .GET, target: "/echo", fields: [], body: nil, on: self.eventLoop).body)
        }

        flaky.failEveryRequest()
        try await Self.eventually { !upstream.isProbedHealthy(0) }
        #expect(!upstream.isProbedHealthy(0) && upstream.isProbedHealthy(1))
        let before = flaky.requests
        for _ in 0..<4 { #expect(try await get().contains("Host: 127.0.0.1:\(steady.port)")) }
        #expect(flaky.requests - before <= 1, "only probes reach the unhealthy address (one may be under way)")

        flaky.recover()
        try await Self.eventually { upstream.isProbedHealthy(0) }
        #expect(upstream.isProbedHealthy(0))
        var hosts: Set<String> = []
        for _ in 0..<4 { hosts.insert(try await get().split(separator: "\n").first { $0.hasPrefix("Host:") }.map(String.init) ?? "") }
        #expect(hosts == ["Host: 127.0.0.1:\(flaky.port)", "Host: 127.0.0.1:\(steady.port)"], "back in the rotation")
    }

    @Test func probesStartWithTheRouteTableAndStopWhenTheRouteGoesOrAtShutdown() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let routes = HTTPUpstreamRoutes(eventLoops: [self.eventLoop], logger: Logger(label: "test.upstreams"))
        defer { routes.shutDown() }
        let configuration = try #require(
            try RouteTable(
                yaml: """
                    routes:
                      - path: /a
                        methods: [GET]
                        upstream: {addresses: [http://127.0.0.1:\(server.port)], health_check: {path: /status?code=200, interval: 1s, timeout: 500ms}}
                    """,
                source: "routes.yaml"
            ).routes.first?.upstream
        )
        routes.keep(only: [configuration])
        try await Self.eventually { server.requests >= 2 }
        #expect(server.requests >= 2, "probed before any request, every interval")
        routes.keep(only: [])
        try await Task.sleep(for: .milliseconds(700))  // a probe under way ends within its 500 ms timeout
        let afterRemoval = server.requests
        try await Task.sleep(for: .milliseconds(2_200))
        #expect(server.requests == afterRemoval, "no probes once the route is gone")

        routes.keep(only: [configuration])
        try await Self.eventually { server.requests > afterRemoval }
        routes.shutDown()
        try await Task.sleep(for: .milliseconds(700))  // a probe under way ends within its 500 ms timeout
        let afterShutdown = server.requests
        routes.keep(only: [configuration])
        try await Task.sleep(for: .milliseconds(2_200))
        #expect(server.requests == afterShutdown, "none after shutdown, even for a table put in force later")
    }
}
