import Foundation
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension GatehouseHTTPSystemTests {
    /// What one client can hold of an edge with slow or large request heads and many connections
    /// (docs/security.md 6.4), against the real edge process.
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeConnectionBoundsTests {
        static let document = "GET /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\n"

        @Test func aHeadOverThirtyTwoKibibytesIsAnswered431AndTheConnectionCloses() async throws {
            try await GatehouseSystem.run { system in
                let fits = try RawTCPConnection(port: system.edgePorts[0])
                try fits.send(Self.document + "X-Large: \(String(repeating: "a", count: 31 * 1024))\r\n\r\n")
                let answered = HTTPProbeResponse.sequence(await fits.receiveOffPool(timeout: .seconds(10)) { $0.contains("doc-000001\"") }, heads: [false])
                #expect(answered.first?.status == 200, "a 31 KiB header fits in 32 KiB")

                let large = try RawTCPConnection(port: system.edgePorts[0])
                try large.send(Self.document + "X-Large: \(String(repeating: "a", count: 33 * 1024))\r\n\r\n")
                let refused = HTTPProbeResponse.sequence(large.receive(timeout: .seconds(10)) { $0.contains("}") }, heads: [false])
                let answer = try #require(refused.first, "an answer before the connection closes")
                #expect(answer.status == 431)
                #expect(answer.headers["content-type"] == "application/problem+json")
                #expect(answer.headers["connection"] == "close")
                #expect(answer.body.contains("Request Header Fields Too Large"), "\(answer.body)")
                #expect(large.waitForClose(timeout: .seconds(2)) != nil)

                // 100 fields (Host and 99 more) are allowed, 101 are not.
                let hundred = (1...99).map { "X-Field-\($0): \($0)\r\n" }.joined()
                let many = try RawTCPConnection(port: system.edgePorts[0])
                try many.send(Self.document + hundred + "\r\n")
                #expect(HTTPProbeResponse.sequence(await many.receiveOffPool(timeout: .seconds(10)) { $0.contains("doc-000001\"") }, heads: [false]).first?.status == 200)
                let tooMany = try RawTCPConnection(port: system.edgePorts[0])
                try tooMany.send(Self.document + hundred + "X-Field-100: 100\r\n\r\n")
                #expect(HTTPProbeResponse.sequence(tooMany.receive(timeout: .seconds(10)) { $0.contains("}") }, heads: [false]).first?.status == 431)
            }
        }

        @Test func aHeadTrickledInAByteAtATimeIsClosedAtTheHeadTimeout() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_HEAD_TIMEOUT_MS": "2000"]) { system in
                let slow = try RawTCPConnection(port: system.edgePorts[0])
                let started = ContinuousClock.now
                var closedAfter: Duration?
                // One byte every 0.5 s, each resetting the 60 s idle timeout; up to 20 s.
                for byte in (Self.document + "X-Slow: " + String(repeating: "s", count: 40)).utf8 {
                    do {
                        try slow.send(String(decoding: [byte], as: UTF8.self))
                    } catch {
                        closedAfter = ContinuousClock.now - started
                        break
                    }
                    if slow.waitForClose(timeout: .milliseconds(500)) != nil {
                        closedAfter = ContinuousClock.now - started
                        break
                    }
                }
                let closed = try #require(closedAfter, "the edge still held the trickling connection after 20 s")
                #expect(closed >= .milliseconds(1900) && closed < .seconds(6), "closed about 2 s after the first byte, not \(closed)")
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_head_timeouts_total") == 1)
                // The edge serves on.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 200)
            }
        }

        @Test func twoThousandTricklingConnectionsAreClosedAtTheHeadTimeoutWhileOtherClientsAreServed() async throws {
            let count = 2000
            // 2,000 sockets here and 2,000 in the edge, which inherits this process's limit: raise the soft limit
            // on open files if it is lower (the hard limit must allow it).
            var limit = rlimit()
            try #require(getrlimit(Self.openFiles, &limit) == 0)
            let needed = rlim_t(count + 512)
            if limit.rlim_cur < needed {
                try #require(limit.rlim_max >= needed, "the hard limit on open files (\(limit.rlim_max)) is below \(needed): raise it (ulimit -Hn)")
                limit.rlim_cur = needed
                try #require(setrlimit(Self.openFiles, &limit) == 0, "setrlimit(RLIMIT_NOFILE, \(needed))")
            }

            // Long enough to open every connection before the first one times out, also on a loaded machine
            // where other system tests run beside this one (5 s was not: 5.4 s in one full run).
            let headTimeout = Duration.seconds(10)
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_HEAD_TIMEOUT_MS": "10000"]) { system in
                let token = try await system.adminToken()
                let start = ContinuousClock.now
                var slow: [RawTCPConnection] = []
                for _ in 0..<count {
                    let connection = try await Self.connect(port: system.edgePorts[0])
                    try connection.send(Self.document + "X-Slow: ")
                    slow.append(connection)
                }
                let connected = ContinuousClock.now
                try #require(connected - start < headTimeout, "connecting took \(connected - start), longer than the head timeout")
                #expect(slow.allSatisfy { !$0.isClosedByServer() }, "all \(count) are open")
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token).status == 200, "served while \(count) trickle")

                // Every 0.5 s: a byte on each open trickling connection, and an ordinary request.
                var open = Array(slow.indices)
                var answers: [Int] = []
                while !open.isEmpty, ContinuousClock.now - connected < headTimeout + .seconds(10) {
                    let round = ContinuousClock.now
                    open = open.filter { index in
                        guard !slow[index].isClosedByServer() else { return false }
                        return (try? slow[index].send("s")) != nil
                    }
                    answers.append(try await system.edge(0, "GET", "/v1/articles/doc-000002", token: token).status)
                    try await Task.sleep(until: round + .milliseconds(500))
                }
                #expect(open.isEmpty, "\(open.count) of \(count) trickling connections were still open \(ContinuousClock.now - connected) after the last one started")
                #expect(ContinuousClock.now - start >= headTimeout, "none closed before the head timeout")
                #expect(!answers.isEmpty && answers.allSatisfy { $0 == 200 }, "ordinary requests meanwhile: \(answers)")
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_head_timeouts_total") == Double(count))
            }
        }

        @Test func pastTheConnectionCapANewConnectionIsAnswered503AndClosed() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_MAX_CONNECTIONS": "20"]) { system in
                // The admin tier (1,000 a minute), so that no answer here is a 429 of the public one (20 a minute).
                let token = try await system.adminToken()
                let request = Self.document + "Authorization: Bearer \(token)\r\n\r\n"
                var held: [RawTCPConnection] = []
                for _ in 0..<20 {
                    let connection = try RawTCPConnection(port: system.edgePorts[0])
                    try connection.send(request)
                    let answer = HTTPProbeResponse.sequence(await connection.receiveOffPool(timeout: .seconds(10)) { $0.contains("doc-000001\"") }, heads: [false])
                    try #require(answer.first?.status == 200, "connection \(held.count + 1) of 20 is served")
                    held.append(connection)
                }
                let refused = try RawTCPConnection(port: system.edgePorts[0])
                try? refused.send(request)
                let answer = try #require(
                    HTTPProbeResponse.sequence(refused.receive(timeout: .seconds(10)) { $0.contains("}") }, heads: [false]).first,
                    "the 21st connection gets an answer"
                )
                #expect(answer.status == 503)
                #expect(answer.headers["content-type"] == "application/problem+json")
                #expect(answer.headers["retry-after"] == "1")
                #expect(answer.headers["connection"] == "close")
                #expect(answer.body.contains("maximum of 20 connections"), "\(answer.body)")
                #expect(refused.waitForClose(timeout: .seconds(2)) != nil)
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_connections_refused_total") == 1)
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_connections") == 20)

                // One closes: the next connection is served.
                held.removeLast()
                var status = 0
                let deadline = ContinuousClock.now + .seconds(5)
                while status != 200, ContinuousClock.now < deadline {
                    status = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token).status
                }
                #expect(status == 200)
            }
        }

        /// Connects, trying again for a second: connecting thousands at once can fill the edge's accept queue
        /// (backlog 256) for a moment.
        static func connect(port: Int) async throws -> RawTCPConnection {
            for _ in 0..<100 {
                if let connection = try? RawTCPConnection(port: port) { return connection }
                try await Task.sleep(for: .milliseconds(10))
            }
            return try RawTCPConnection(port: port)
        }

        #if canImport(Glibc)
        static let openFiles = __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue))
        #else
        static let openFiles = RLIMIT_NOFILE
        #endif
    }
}
