import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseHTTPSystemTests {
    /// The edge's HTTP/1.1 connection handling, byte for byte, against the real edge process.
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeHTTPConnectionTests {
        @Test func pipelinedRequestsAreAnsweredInOrderAndHeadHasTheLengthOfGet() async throws {
            try await GatehouseSystem.run { system in
                let token = try await system.adminToken()
                let connection = try RawTCPConnection(port: system.edgePorts[0])
                let auth = "Authorization: Bearer \(token)\r\n"
                try connection.send(
                    "GET /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\n\(auth)X-Request-ID: first\r\n\r\n"
                        + "HEAD /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\n\(auth)X-Request-ID: second\r\n\r\n"
                        + "GET /v1/articles/doc-000002 HTTP/1.1\r\nHost: edge\r\n\(auth)X-Request-ID: third\r\n\r\n"
                )
                let text = await connection.receiveOffPool(timeout: .seconds(10)) { HTTPProbeResponse.sequence($0, heads: [false, true, false]).count == 3 && $0.contains("doc-000002\"") }
                let answers = HTTPProbeResponse.sequence(text, heads: [false, true, false])
                try #require(answers.count == 3, "three answers on one connection: \(text)")
                #expect(answers.map(\.headers["x-request-id"]) == ["first", "second", "third"], "in the order asked")
                #expect(answers.map(\.status) == [200, 200, 200])
                #expect(answers[0].body.contains(#""id":"doc-000001""#))
                #expect(answers[1].headers["content-length"] == answers[0].headers["content-length"], "HEAD gives GET's length, without the body")
                #expect(answers[1].headers["etag"] == answers[0].headers["etag"])
                #expect(answers[2].body.contains(#""id":"doc-000002""#))
                for answer in answers {
                    #expect(answer.headers["server"] == "gatehouse-edge")
                    let date = try #require(answer.headers["date"])
                    #expect(date.hasSuffix(" GMT") && date.count == 29, "an IMF-fixdate: \(date)")
                }

                // Forty requests in one write, then bytes that are not HTTP: forty answers in order, then a `400`
                // for the bytes after them, then the connection closes.
                let many = try RawTCPConnection(port: system.edgePorts[0])
                let numbers = Array(1...40)
                try many.send(
                    numbers.map { "GET /v1/articles/doc-00000\($0 % 5 + 1) HTTP/1.1\r\nHost: edge\r\n\(auth)X-Request-ID: r\($0)\r\n\r\n" }.joined()
                        + "NOT HTTP\r\n\r\n"
                )
                let all = await many.receiveOffPool(timeout: .seconds(15)) { _ in false }  // until the edge closes the connection
                let sequence = HTTPProbeResponse.sequence(all, heads: Array(repeating: false, count: 41))
                try #require(sequence.count == 41, "forty answers and a problem: \(all.suffix(600))")
                #expect(sequence.prefix(40).map(\.headers["x-request-id"]) == numbers.map { "r\($0)" }, "in the order asked")
                #expect(sequence.prefix(40).allSatisfy { $0.status == 200 })
                #expect(sequence[40].status == 400)
                #expect(sequence[40].headers["content-type"] == "application/problem+json")
                #expect(sequence[40].headers["connection"] == "close")
            }
        }

        @Test func aBodyIsAskedForWithContinueAndOneTooLargeIsRefusedAtOnce() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_MAX_BODY_BYTES": "2048"]) { system in
                let token = try await system.adminToken()
                let fits = try RawTCPConnection(port: system.edgePorts[0])
                try fits.send(
                    "PUT /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(#"{"title":"fits"}"#.utf8.count)\r\nExpect: 100-continue\r\n\r\n"
                )
                let interim = fits.receive(timeout: .seconds(5)) { $0.contains("\r\n\r\n") }
                #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "the client is told to send its body: \(interim)")
                try fits.send(#"{"title":"fits"}"#)
                let written = HTTPProbeResponse.sequence(await fits.receiveOffPool(timeout: .seconds(10)) { $0.contains("\"fits\"") }, heads: [false])
                #expect(written.first?.status == 200)

                // Declared too large while the client waits for 100 Continue: 413 at once, and the connection closes.
                let declared = try RawTCPConnection(port: system.edgePorts[0])
                try declared.send(
                    "PUT /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
                )
                let refused = HTTPProbeResponse.sequence(declared.receive(timeout: .seconds(5)) { $0.contains("}") }, heads: [false])
                #expect(refused.first?.status == 413)
                #expect(refused.first?.headers["content-type"] == "application/problem+json")
                #expect(refused.first?.headers["connection"] == "close")
                #expect(declared.waitForClose(timeout: .seconds(2)) != nil, "closed without waiting for a body that will not come")

                // Too large as it arrives (chunked, no length): 413 before the rest is read; closed once it has ended.
                let chunked = try RawTCPConnection(port: system.edgePorts[0])
                let chunk = String(repeating: "x", count: 3000)
                try chunked.send(
                    "PUT /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer \(token)\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
                )
                let early = HTTPProbeResponse.sequence(chunked.receive(timeout: .seconds(5)) { $0.contains("}") }, heads: [false])
                #expect(early.first?.status == 413)
                try chunked.send("0\r\n\r\n")
                #expect(chunked.waitForClose(timeout: .seconds(2)) != nil)
                // The document was not changed by either.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token).body.contains(#""title":"fits""#))
            }
        }

        @Test func aRequestThatIsNotHTTPGetsAProblemAndTheConnectionCloses() async throws {
            try await GatehouseSystem.run { system in
                let connection = try RawTCPConnection(port: system.edgePorts[0])
                try connection.send("GET /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nContent-Length: twelve\r\n\r\n")
                let answer = HTTPProbeResponse.sequence(connection.receive(timeout: .seconds(5)) { $0.contains("}") }, heads: [false])
                #expect(answer.first?.status == 400)
                #expect(answer.first?.headers["content-type"] == "application/problem+json")
                #expect(answer.first?.body.contains("not valid HTTP/1.1") == true, "\(answer.first?.body ?? "")")
                #expect(connection.waitForClose(timeout: .seconds(2)) != nil)

                // A transfer coding the edge does not decode is refused 501 once, though the decoder fails on it next.
                let coded = try RawTCPConnection(port: system.edgePorts[0])
                try coded.send("PUT /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: identity\r\n\r\n")
                let text = coded.receive(timeout: .seconds(5)) { _ in false }  // until the edge closes the connection
                #expect(HTTPProbeResponse.sequence(text, heads: [false, false]).map(\.status) == [501], "one answer: \(text)")
                #expect(coded.waitForClose(timeout: .seconds(1)) != nil, "then the connection closes")
            }
        }

        @Test func anIdleConnectionIsClosedAfterTheIdleTimeout() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_IDLE_TIMEOUT_MS": "1000"]) { system in
                let idle = try RawTCPConnection(port: system.edgePorts[0])
                try idle.send("GET /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\n\r\n")
                #expect(HTTPProbeResponse.sequence(await idle.receiveOffPool(timeout: .seconds(5)) { $0.contains("doc-000001\"") }, heads: [false]).first?.status == 200)
                let closed = try #require(idle.waitForClose(timeout: .seconds(5)), "an idle keep-alive connection is closed")
                #expect(closed > .milliseconds(500) && closed < .seconds(3), "about 1 s after the answer, not \(closed)")
            }
        }

        @Test func sigtermClosesOpenConnectionsInsteadOfWaitingForThem() async throws {
            try await GatehouseSystem.run { system in
                let open = try RawTCPConnection(port: system.edgePorts[0])
                try open.send("GET /v1/articles/doc-000002 HTTP/1.1\r\nHost: edge\r\n\r\n")
                #expect(HTTPProbeResponse.sequence(await open.receiveOffPool(timeout: .seconds(5)) { $0.contains("doc-000002\"") }, heads: [false]).first?.status == 200)
                let stopping = ContinuousClock.now
                system.edges[0].send(signal: SIGTERM)
                #expect(try await system.edges[0].waitForExit(timeout: .seconds(20)) == .exited(0))
                // The idle timeout is 60 s: an edge that waited for the client would take that long.
                #expect(ContinuousClock.now - stopping < .seconds(5))
                #expect(open.waitForClose(timeout: .seconds(1)) != nil, "the keep-alive connection was closed by the edge")
            }
        }
    }
}
