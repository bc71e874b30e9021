import Foundation

/// Facts about the running test process.
public enum TestEnvironment {
    /// The build products directory (for example `.build/debug`) holding the running test bundle and the
    /// package's executables, so tests can launch those executables as child processes.
    ///
    /// On Linux the test bundle is an executable `*.xctest` file inside that directory; on macOS it is a
    /// `*.xctest` bundle inside it.
    public static var productsDirectory: URL {
        if let testBundle = Bundle.allBundles.first(where: { $0.bundleURL.pathExtension == "xctest" }) {
            return testBundle.bundleURL.deletingLastPathComponent()
        }
        let mainURL = Bundle.main.bundleURL
        return mainURL.pathExtension == "xctest" ? mainURL.deletingLastPathComponent() : mainURL
    }

    /// The package's root folder (holding Package.swift, README.md, scripts/, config/ and docs/).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
