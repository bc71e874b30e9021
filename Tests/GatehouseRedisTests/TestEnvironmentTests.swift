import Foundation
import GatehouseTestSupport
import Testing

@Suite("Test support")
struct TestEnvironmentTests {
    @Test func productsDirectoryHoldsTheTestBundle() throws {
        let directory = TestEnvironment.productsDirectory
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(entries.contains { $0.hasSuffix(".xctest") }, "\(directory.path) holds \(entries)")
    }

    @Test func freeLoopbackPortIsUsable() throws {
        let port = try freeLoopbackPort()
        #expect((1024...65535).contains(port))
    }
}
