@testable import EdgeRouterCore
import GatehouseAuthAPI
import GatehouseTestSupport
import JWTKit
import Testing

/// The edge writes header fields without NIO's outbound validation (docs/security.md, "Header fields the edge
/// writes"): what it passes on went through the strict HTTP/1.1 parser, which refuses a control character in a
/// field, from a client as from an upstream (through the edge's real HTTP server in front of a real upstream,
/// ``TestUpstreamServer``, which writes such a field as it is); the token claims it puts into identity fields are
/// checked when the token is verified.
@Suite(.timeLimit(.minutes(3)))
struct HeaderFieldSafetyTests {
    static let kinds = TestUpstreamServer.malformedFieldValues.keys.sorted()

    @Test(arguments: Self.kinds)
    func aClientFieldWithAControlCharacterIsRefusedAndNeverForwarded(kind: String) async throws {
        let value = try #require(TestUpstreamServer.malformedFieldValues[kind])
        try await UpstreamStreamingTests.withEdge { port, upstream in
            let connection = try RawTCPConnection(port: port)
            try connection.send("GET /status?code=200 HTTP/1.1\r\nHost: edge.test\r\nX-Probe: \(value)\r\n\r\n")
            let answer = await connection.receiveOffPool(timeout: .seconds(10)) { $0.contains("\r\n\r\n") }
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "refused: \(answer)")
            #expect(upstream.connections == 0, "nothing reached the upstream")
        }
    }

    @Test(arguments: Self.kinds)
    func anUpstreamFieldWithAControlCharacterIsABadAnswerNeverPassedOn(kind: String) async throws {
        try await UpstreamStreamingTests.withEdge { port, upstream in
            let connection = try RawTCPConnection(port: port)
            try connection.send("GET /status?field=\(kind) HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
            let answer = await connection.receiveOffPool(timeout: .seconds(10)) { _ in false }
            #expect(answer.hasPrefix("HTTP/1.1 502 "), "a bad answer: \(answer)")
            #expect(!answer.lowercased().contains("x-probe"), "the field was not passed on: \(answer)")
            #expect(upstream.requests >= 1, "the upstream answered")
        }
    }

    @Test func anUpstreamFieldWithoutControlCharactersIsPassedOn() async throws {
        try await UpstreamStreamingTests.withEdge { port, _ in
            let connection = try RawTCPConnection(port: port)
            try connection.send("GET /status?field=plain HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
            let answer = await connection.receiveOffPool(timeout: .seconds(10)) { _ in false }
            #expect(answer.hasPrefix("HTTP/1.1 200 ") && answer.contains("\r\nX-Probe: plain\r\n"), "\(answer)")
        }
    }

    @Test func aTokenWhoseIdentityClaimsHaveAControlCharacterIsRefused() async throws {
        let issuer = try await TestTokenIssuer()
        let verifier = AccessTokenVerifier(issuer: TestTokenIssuer.issuer, audience: "gatehouse", revocations: RevocationList())
        try await verifier.replaceKeys(jwksJSON: issuer.jwks)
        let plain = await verifier.verify(try await issuer.token(subject: "alice"))
        #expect((try? plain.get())?.sub.value == "alice")
        for subject in ["alice\r\nX-Injected: 1", "alice\u{0}", "alice\nbob"] {
            let result = await verifier.verify(try await issuer.token(subject: subject))
            #expect(result == .failure(.malformed), "subject \(subject.debugDescription)")
        }
        let scoped = await verifier.verify(try await issuer.token(scopes: ["read\r\nX-Injected: 1"]))
        #expect(scoped == .failure(.malformed))
    }
}
