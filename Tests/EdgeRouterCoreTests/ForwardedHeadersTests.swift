@testable import EdgeRouterCore
import Testing

/// What an HTTP upstream receives from the edge, and what the client receives back (RFC 9110 §7.6, RFC 7239).
struct ForwardedHeadersTests {
    let origin = ForwardedHeaders.Origin(clientAddress: "203.0.113.7", scheme: "http", host: "api.example.com", requestID: "req-1")

    func forward(_ fields: [(name: String, value: String)], identity: [(name: String, value: String)] = []) -> [(name: String, value: String)] {
        ForwardedHeaders.towardUpstream(
            fields,
            origin: self.origin,
            identity: identity,
            identityNames: ["x-user-id"]
        )
    }

    @Test func hopByHopFieldsAndTheFieldsConnectionNamesAreNotForwarded() {
        let sent = self.forward([
            ("Connection", "keep-alive, X-Secret-Hop"), ("Keep-Alive", "timeout=5"), ("X-Secret-Hop", "1"), ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"), ("Upgrade", "websocket"), ("Proxy-Authorization", "Basic x"), ("Content-Length", "3"),
            ("Accept", "application/json"), ("Authorization", "Bearer t"),
        ])
        let names = sent.map { $0.name.lowercased() }
        for dropped in ["connection", "keep-alive", "x-secret-hop", "te", "transfer-encoding", "upgrade", "proxy-authorization", "content-length"] {
            #expect(!names.contains(dropped), "\(dropped) was forwarded")
        }
        #expect(sent.contains { $0 == ("Accept", "application/json") })
        #expect(sent.contains { $0 == ("Authorization", "Bearer t") }, "the upstream may read the token itself")
    }

    @Test func theClientsHostAddressAndIDGoInTheForwardingFields() {
        let sent = self.forward([("Host", "api.example.com"), ("Forwarded", "for=1.2.3.4"), ("X-Forwarded-For", "1.2.3.4"), ("X-Request-ID", "other")])
        let value = { (name: String) in sent.filter { $0.name == name }.map(\.value) }
        #expect(value("Host") == [], "the upstream's own is added for the address chosen")
        #expect(value("Forwarded") == ["for=203.0.113.7;proto=http;host=api.example.com"], "what the client wrote is replaced")
        #expect(value("X-Forwarded-For") == ["203.0.113.7"])
        #expect(value("X-Forwarded-Proto") == ["http"])
        #expect(value("X-Forwarded-Host") == ["api.example.com"])
        #expect(value("X-Request-ID") == ["req-1"])
        #expect(value("Via") == ["1.1 gatehouse"])
    }

    @Test func identityFieldsFromTheClientAreRemovedBeforeTheVerifiedOnesAreAdded() {
        let sent = self.forward(
            [("X-Gatehouse-Sub", "admin"), ("x-gatehouse-roles", "admin"), ("X-User-Id", "admin"), ("Accept", "*/*")],
            identity: [("X-Gatehouse-Sub", "alice")]
        )
        #expect(sent.filter { $0.name.lowercased().hasPrefix("x-gatehouse-") }.map(\.value) == ["alice"])
        #expect(!sent.contains { $0.name.lowercased() == "x-user-id" })
    }

    @Test func namesAreComparedInAnyCase() {
        let sent = self.forward([
            ("connection", "X-SECRET-HOP"), ("x-secret-hop", "1"), ("X-USER-ID", "admin"), ("X-GATEHOUSE-SCOPES", "all"), ("VIA", "1.0 a"), ("via", "1.1 b"),
            ("HOST", "other"), ("Accept", "*/*"),
        ])
        #expect(sent.map(\.name) == ["Accept", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-ID", "Via"])
        #expect(sent.last?.value == "1.0 a, 1.1 b, 1.1 gatehouse")
        let passed = ForwardedHeaders.towardClient([("CONNECTION", "x-hop"), ("X-Hop", "1"), ("SERVER", "s"), ("content-length", "2"), ("ETag", "\"v\"")])
        #expect(passed.map(\.name) == ["ETag", "Via"])
        #expect(ForwardedHeaders.isReserved("X-Forwarded-FOR") && ForwardedHeaders.isReserved("VIA") && !ForwardedHeaders.isReserved("X-Gatehouse-Sub"))
    }

    /// Only whole names match a listed one: a longer name that starts with a hop-by-hop one, a name one
    /// letter longer, a name shorter than the `X-Gatehouse-` prefix and a non-ASCII name are passed on.
    @Test func onlyWholeNamesMatch() {
        let sent = self.forward([("Keep-Alive-Hint", "1"), ("Upgrade", "h2c"), ("Upgrades", "2"), ("X-Gatehouse", "3"), ("Tê", "4"), ("TE", "trailers")])
        #expect(Array(sent.map(\.name).prefix(4)) == ["Keep-Alive-Hint", "Upgrades", "X-Gatehouse", "Tê"])
        #expect(!sent.contains { $0.name == "Upgrade" || $0.name == "TE" })
    }

    @Test func aHostThatIsNoTokenIsQuotedAndEscapedInForwarded() {
        let origin = ForwardedHeaders.Origin(clientAddress: "192.0.2.1", scheme: "http", host: #"a"b\c"#, requestID: "r")
        #expect(ForwardedHeaders.forwarded(origin) == #"for=192.0.2.1;proto=http;host="a\"b\\c""#)
    }

    @Test func anIPv6ClientAndAHostWithAPortAreQuotedInForwarded() {
        let origin = ForwardedHeaders.Origin(clientAddress: "2001:db8::1", scheme: "https", host: "example.com:8443", requestID: "r")
        #expect(ForwardedHeaders.forwarded(origin) == "for=\"[2001:db8::1]\";proto=https;host=\"example.com:8443\"")
    }

    @Test func theClientGetsTheUpstreamsFieldsWithoutHopByHopOnesAndWithVia() {
        let passed = ForwardedHeaders.towardClient([
            ("Content-Type", "application/json"), ("Connection", "close"), ("Transfer-Encoding", "chunked"), ("Via", "1.1 origin-cache"), ("ETag", "\"v1\""),
            ("Date", "Mon, 07 Dec 2026 09:03:32 GMT"), ("Server", "BaseHTTP/0.6"), ("X-Request-ID", "theirs"), ("Age", "3"), ("Proxy-Authenticate", "Basic realm=\"internal\""),
        ])
        // The edge sets its own Server and X-Request-ID on every answer: one of each, not two. The origin's
        // Date stays (the cache's freshness reads it; the HTTP server then adds none). A proxy's challenge is for
        // the edge, the next client on the chain.
        #expect(passed.map(\.name) == ["Content-Type", "ETag", "Date", "Age", "Via"])
        #expect(passed.last?.value == "1.1 origin-cache, 1.1 gatehouse")
    }

    @Test func theSchemeIsWhatATrustedProxySaidElseHTTP() {
        let scheme = ForwardedHeaders.clientScheme(peerIsTrusted:forwarded:forwardedProto:)
        #expect(scheme(true, nil, "https") == "https", "a TLS-terminating load balancer's X-Forwarded-Proto")
        #expect(scheme(true, nil, "HTTPS") == "https")
        #expect(scheme(true, nil, "http, https") == "https", "the last entry is the trusted proxy's own")
        #expect(scheme(true, #"for=192.0.2.60;proto=http, for="[2001:db8::1]";proto="https""#, nil) == "https", "the last Forwarded element")
        #expect(scheme(true, "for=192.0.2.60;proto=http", "https") == "http", "Forwarded wins over X-Forwarded-Proto")
        #expect(scheme(true, "for=192.0.2.60", "https") == "https", "a Forwarded without proto leaves X-Forwarded-Proto")
        #expect(scheme(true, nil, "gopher") == "http", "only http and https are passed on")
        #expect(scheme(true, nil, nil) == "http")
        #expect(scheme(false, "proto=https", "https") == "http", "what a client says itself is not believed")
    }

    @Test func theSchemeATrustedProxySaidGoesUpstream() {
        let origin = ForwardedHeaders.Origin(clientAddress: "203.0.113.7", scheme: "https", host: "api.example.com", requestID: "req-1")
        let sent = ForwardedHeaders.towardUpstream([("X-Forwarded-Proto", "http")], origin: origin, identity: [], identityNames: [])
        #expect(sent.filter { $0.name == "X-Forwarded-Proto" }.map(\.value) == ["https"])
        #expect(sent.first { $0.name == "Forwarded" }?.value == "for=203.0.113.7;proto=https;host=api.example.com")
    }
}
