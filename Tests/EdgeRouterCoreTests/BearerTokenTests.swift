import Testing

@testable import EdgeRouterCore

/// `Authorization: Bearer …` parsing (RFC 6750 §2.1).
struct BearerTokenTests {
    @Test func readsTheTokenOfABearerHeader() {
        #expect(EdgeGateway.bearerToken("Bearer abc.def.ghi") == "abc.def.ghi")
        #expect(EdgeGateway.bearerToken("bearer   abc.def.ghi \t") == "abc.def.ghi", "scheme in any case, spaces trimmed")
        #expect(EdgeGateway.bearerToken("Basic dXNlcjpwYXNz") == nil)
        #expect(EdgeGateway.bearerToken("Bearer") == nil)
        #expect(EdgeGateway.bearerToken("Bearer    ") == nil)
        #expect(EdgeGateway.bearerToken("Bearerabc") == nil)
        #expect(EdgeGateway.bearerToken("Bearer \tabc\t ") == "abc", "tabs trimmed too")
        #expect(EdgeGateway.bearerToken("Bearer  tök.én ") == "tök.én", "a slice at character boundaries, whatever the bytes")
    }

    @Test func tellsTheBearerSchemeFromOthers() {
        #expect(EdgeGateway.isBearerScheme("Bearer abc"))
        #expect(EdgeGateway.isBearerScheme("BEARER abc"))
        #expect(EdgeGateway.isBearerScheme("Bearer"), "a bearer header without a token is a malformed bearer token")
        #expect(!EdgeGateway.isBearerScheme("Basic dXNlcjpwYXNz"))
        #expect(!EdgeGateway.isBearerScheme("Bearerabc"))
        #expect(!EdgeGateway.isBearerScheme("DPoP abc"))
    }
}
