@testable import EdgeRouterCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// Forwarding to an HTTP upstream over real loopback connections: kept-alive connections, round robin,
/// retries of idempotent requests only, passive health, timeouts and bounds.
struct HTTPUpstreamTests {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()

    func upstream(_ ports: [Int], firstByte: Duration = .seconds(5), total: Duration = .seconds(10), maximumBodyBytes: Int = 1 << 20, ejectAfter: Int = 3) -> HTTPUpstream {
        HTTPUpstream(
            addresses: ports.map { UpstreamAddress(host: "127.0.0.1", port: $0) },
            timeouts: .init(connect: .seconds(2), firstByte: firstByte, total: total),
            maximumBodyBytes: maximumBodyBytes, ejectAfter: ejectAfter, ejection: .seconds(30), eventLoops: [self.eventLoop]
        )
    }

    func get(_ upstream: HTTPUpstream, _ target: String, method: HTTPMethod = .GET) async throws(UpstreamFailure) -> UpstreamAnswer {
        try await upstream.forward(method: method, target: target, fields: [("Accept", "text/plain")], body: nil, on: self.eventLoop)
    }

    @Test func requestsReuseKeptAliveConnectionsAndSendTheAddressAsHost() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let upstream = self.upstream([server.port])
        defer { upstream.shutDown() }
        for _ in 0..<5 {
            let answer = try await self.get(upstream, "/echo")
            #expect(answer.status == 200)
            #expect(String(buffer: answer.body).contains("Host: 127.0.0.1:\(server.port)"))
        }
        #expect(server.connections == 1, "one kept-alive connection for five requests in a row")
    }

    @Test func aHeadsAnswerIsReadWithoutABodyAndItsConnectionCarriesTheNextRequest() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let upstream = self.upstream([server.port], firstByte: .seconds(2))
        defer { upstream.shutDown() }
        let get = try await self.get(upstream, "/echo")
        let head = try await self.get(upstream, "/echo", method: .HEAD)
        #expect(head.status == 200)
        #expect(head.body.readableBytes == 0, "no body after a HEAD's head, though it declares the GET's length")
        #expect(head.headers.first { $0.name.lowercased() == "content-length" }?.value == "\(get.body.readableBytes)")
        let after = try await self.get(upstream, "/echo")
        #expect(after.status == 200 && after.body.readableBytes == get.body.readableBytes)
        #expect(server.connections == 1, "the HEAD's answer left its connection ready for the next request")
    }

    @Test func anIPv6AddressIsSentAsHostInBrackets() {
        #expect(UpstreamAddress(host: "::1", port: 8080).key == "[::1]:8080")
        #expect(UpstreamAddress(host: "api.internal", port: 80).key == "api.internal:80")
    }

    @Test func requestsGoRoundRobinOverTheAddresses() async throws {
        let first = try await TestUpstreamServer.start()
        let second = try await TestUpstreamServer.start()
        defer { first.stop(); second.stop() }
        let upstream = self.upstream([first.port, second.port])
        defer { upstream.shutDown() }
        for _ in 0..<4 { _ = try await self.get(upstream, "/echo") }
        #expect(first.requests == 2 && second.requests == 2)
    }

    @Test func anIdempotentRequestIsRetriedOnAnotherAddressAndANonIdempotentOneNever() async throws {
        let live = try await TestUpstreamServer.start()
        defer { live.stop() }
        let dead = try await TestUpstreamServer.start()
        let deadPort = dead.port
        dead.stop()
        // The dead address comes first in the rotation.
        let retrying = self.upstream([deadPort, live.port], ejectAfter: 5)
        defer { retrying.shutDown() }
        let answer = try await self.get(retrying, "/echo")
        #expect(answer.status == 200, "the GET went on to the live address")
        let posting = self.upstream([deadPort, live.port], ejectAfter: 5)
        defer { posting.shutDown() }
        await #expect(throws: UpstreamFailure.self) { try await self.get(posting, "/echo", method: .POST) }
        #expect(live.requests == 1, "the POST was not repeated on the live address")
    }

    @Test func anAddressThatKeepsFailingIsEjected() async throws {
        let live = try await TestUpstreamServer.start()
        defer { live.stop() }
        let dead = try await TestUpstreamServer.start()
        let deadPort = dead.port
        dead.stop()
        let upstream = self.upstream([deadPort, live.port], ejectAfter: 1)
        defer { upstream.shutDown() }
        // The first POST goes to the dead address, fails and is not repeated; that failure ejects it.
        await #expect(throws: UpstreamFailure.self) { try await self.get(upstream, "/echo", method: .POST) }
        for _ in 0..<5 {
            #expect(try await self.get(upstream, "/echo", method: .POST).status == 200)
        }
        #expect(live.requests == 5, "every later POST reached the live address")
    }

    @Test func timeoutsFailTheRequestWithoutAnAnswer() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let upstream = self.upstream([server.port], firstByte: .milliseconds(200), maximumBodyBytes: 1000)
        defer { upstream.shutDown() }
        let slow = await #expect(throws: UpstreamFailure.self) { try await self.get(upstream, "/slow?ms=3000", method: .POST) }
        guard case .timedOut = slow else { Issue.record("expected a timeout, got \(String(describing: slow))"); return }
        let dropped = await #expect(throws: UpstreamFailure.self) { try await self.get(upstream, "/drop") }
        #expect(dropped == .closedBeforeAnswer)
        let whole = try await self.get(upstream, "/bytes?n=1000")
        #expect(whole.body.readableBytes == 1000 && whole.rest == nil, "a body at the bound is read whole")
        #expect(try await self.get(upstream, "/status?code=503").status == 503, "an error answer is an answer")
    }

    @Test func anAnswerLongerThanTheBoundIsHandedOverAtItsStartAndTheRestStreamed() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let upstream = self.upstream([server.port], maximumBodyBytes: 1000)
        defer { upstream.shutDown() }
        let answer = try await self.get(upstream, "/bytes?n=5000")
        let rest = try #require(answer.rest, "the rest of the body is streamed")
        #expect(answer.status == 200 && rest.declaredLength == 5000)
        let received = Mutex((bytes: answer.body.readableBytes, ended: false))
        rest.start { event in
            switch event {
            case .chunk(let chunk): received.withLock { $0.bytes += chunk.readableBytes }
            case .end: received.withLock { $0.ended = true }
            case .failed: break
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while !received.withLock({ $0.ended }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(received.withLock { $0 } == (5000, true))
    }

    @Test func shutDownClosesIdleConnectionsAtOnceAndBusyOnesWhenTheirExchangeEnds() async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let idle = self.upstream([server.port])
        _ = try await self.get(idle, "/echo")
        #expect(server.openConnections == 1, "kept alive")
        idle.shutDown()
        #expect(try await UpstreamStreamingTests.eventually { server.openConnections == 0 }, "an idle connection is closed at once")
        let upstream = self.upstream([server.port])
        _ = try await self.get(upstream, "/echo")
        async let slow = self.get(upstream, "/slow?ms=500")
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.openConnections == 1, "the slow request took the idle connection")
        upstream.shutDown()
        #expect(try await slow.status == 200, "a request in progress at shutdown gets its answer")
        #expect(try await UpstreamStreamingTests.eventually { server.openConnections == 0 }, "its connection closed after the exchange")
        _ = try await self.get(upstream, "/echo")
        #expect(try await UpstreamStreamingTests.eventually { server.openConnections == 0 }, "a request after shutdown keeps no connection")
    }
}
