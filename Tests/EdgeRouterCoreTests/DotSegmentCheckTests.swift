@testable import EdgeRouterCore
import Testing

/// Which request paths the edge refuses for a dot segment before routing (``DotSegmentCheck``).
struct DotSegmentCheckTests {
    @Test(arguments: [
        "/..", "/.", "/api/..", "/api/../admin", "/api/./x", "/api/%2e%2e", "/api/%2E%2e/x", "/api/.%2e", "/api/%2e",
        "/api/..%2fadmin", "/api/..%2Fadmin", "/api/x%2f..%2fadmin", "/api/..%5cadmin", "/api/..\\admin",
    ])
    func aDotSegmentPlainPercentEncodedOrBehindAnEncodedSlashIsFound(path: String) {
        #expect(DotSegmentCheck.hasDotSegment(path))
    }

    @Test(arguments: [
        "/", "/api/articles/7", "/api/v1.2/x", "/api/...", "/api/.hidden", "/api/a..b", "/api/group%2Fproject", "/api/%2e%2e%2e",
        "/api/%2", "/api/%zz", "/api/file.tar.gz",
    ])
    func ordinaryPathsAndDotsInsideASegmentAreNotDotSegments(path: String) {
        #expect(!DotSegmentCheck.hasDotSegment(path))
    }
}
