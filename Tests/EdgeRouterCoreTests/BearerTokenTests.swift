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
    }
}
