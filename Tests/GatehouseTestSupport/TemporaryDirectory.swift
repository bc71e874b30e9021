import Foundation

/// Runs `body` with a new empty directory (its path) that is removed afterwards.
public func withTemporaryDirectory<Value>(_ body: (String) async throws -> Value) async throws -> Value {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("gatehouse-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
