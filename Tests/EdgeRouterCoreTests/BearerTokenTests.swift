import Testing

@testable import EdgeRouterCore

/// `Authorization: Bearer …` parsing (RFC 6750 §2.1).
struct BearerTokenTests {
    @Test func readsTheTokenOfABearerHeader() {
        #expect(EdgeRequestHandler.bearerToken("Bearer abc.def.ghi") == "abc.def.ghi")
        #expect(EdgeRequestHandler.bearerToken("bearer   abc.def.ghi \t") == "abc.def.ghi", "scheme in any case, spaces trimmed")
        #expect(EdgeRequestHandler.bearerToken("Basic dXNlcjpwYXNz") == nil)
        #expect(EdgeRequestHandler.bearerToken("Bearer") == nil)
        #expect(EdgeRequestHandler.bearerToken("Bearer    ") == nil)
        #expect(EdgeRequestHandler.bearerToken("Bearerabc") == nil)
    }
}
