import Foundation
import GatehouseTestSupport

/// A small HTTP API in Python (`http.server`, the script's first argument is its port), the real upstream
/// of the system tests of HTTP upstream routes; ``start(script:)`` returns once it answers.
final class PythonAPIProcess {
    /// The API's port on 127.0.0.1.
    let port: Int
    private let process: Process
    private let folder: TestFolder

    private init(port: Int, process: Process, folder: TestFolder) {
        self.port = port
        self.process = process
        self.folder = folder
    }

    /// Starts the script on a free port and waits (up to 20 s) until it answers a `GET /`.
    static func start(script: String) async throws -> PythonAPIProcess {
        let folder = try TestFolder()
        try folder.write("api.py", script)
        let port = try freeLoopbackPort()
        let process = Process()
        // Debian's python3 itself (no launcher in between), so that its PID is the server's.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [folder.path("api.py"), "\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let api = PythonAPIProcess(port: port, process: process, folder: folder)
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? await httpGetOffPool(port: port, path: "/")) == nil {
            guard ContinuousClock.now < deadline else {
                api.stop()
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return api
    }

    /// Ends the server (SIGKILL: a child of the test process may inherit SIGTERM ignored) and waits for it.
    func stop() {
        kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }
}
