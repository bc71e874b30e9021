import Foundation

/// A folder for one test's files (policy file, logs), removed afterwards.
public final class TestFolder: Sendable {
    /// The folder.
    public let url: URL

    /// Creates an empty folder under the temporary directory.
    public init() throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    public func path(_ name: String) -> String {
        self.url.appendingPathComponent(name).path
    }

    /// Writes `text` to `name` atomically (write, then rename).
    public func write(_ name: String, _ text: String) throws {
        // Write-then-rename, as editors and config management do, so a reader never sees half a file.
        let temporary = self.path(".\(name).tmp")
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, self.path(name)) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: self.path(name)])
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }
}
