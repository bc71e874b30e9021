@testable import EdgeRouterCore
import Testing

/// Which request paths the edge refuses before routing (``RequestPathCheck``).
struct RequestPathCheckTests {
    @Test(arguments: [
        "/..", "/.", "/api/..", "/api/../admin", "/api/./x", "/api/%2e%2e", "/api/%2E%2e/x", "/api/.%2e", "/api/%2e",
        "/api/..%2fadmin", "/api/..%2Fadmin", "/api/x%2f..%2fadmin", "/api/..%5cadmin", "/api/..\\admin",
    ])
    func aDotSegmentPlainPercentEncodedOrBehindAnEncodedSlashIsRefused(path: String) throws {
        let refusal = try #require(RequestPathCheck.refusal(of: path))
        #expect(refusal.contains("'..' segment") && refusal.contains(path))
    }

    @Test(arguments: ["/api/a%00b", "/api/%00", "/api/x/..%00"])
    func anEncodedNULIsRefused(path: String) throws {
        #expect(try #require(RequestPathCheck.refusal(of: path)).contains("NUL (%00)"))
    }

    @Test(arguments: [
        "/", "/api/articles/7", "/api/v1.2/x", "/api/...", "/api/.hidden", "/api/a..b", "/api/group%2Fproject", "/api/%2e%2e%2e",
        "/api/%2", "/api/%zz", "/api/file.tar.gz", "/api/a%20b",
    ])
    func ordinaryPathsAndDotsInsideASegmentPass(path: String) {
        #expect(RequestPathCheck.refusal(of: path) == nil)
    }
}
