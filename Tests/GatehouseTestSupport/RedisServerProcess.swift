import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why ``RedisServerProcess`` could not provide a server.
public struct RedisServerProcessError: Error, CustomStringConvertible {
    /// What went wrong and what to do about it.
    public let description: String
    /// Whether redis-server exited right after starting (typically: its port was taken meanwhile).
    public let exitedAtStart: Bool

    init(description: String, exitedAtStart: Bool = false) {
        self.description = description
        self.exitedAtStart = exitedAtStart
    }
}

/// A throwaway `redis-server` child process on a free loopback port, for tests.
///
/// It runs without persistence in its own temporary folder, with `DEBUG` allowed for local clients (for tests of
/// slow commands: `DEBUG SLEEP`). ``stop()`` ends it (only this child, by its PID) and removes the folder; if a
/// test forgets, deinit does the same.
public final class RedisServerProcess: Sendable {
    /// The address the server listens on.
    public let host = "127.0.0.1"
    /// The TCP port the server listens on; stays the same across ``restart()``.
    public let port: Int
    /// The password the server requires, if any.
    public let password: String?

    private let executable: URL
    private let directory: URL
    /// Further `redis-server` options, after the harness's own.
    private let extraArguments: [String]
    /// The running child, `nil` once it has been reaped (its PID must not be signalled then).
    private let child: Mutex<SpawnedProcess?>

    private init(executable: URL, port: Int, password: String?, directory: URL, extraArguments: [String]) {
        self.executable = executable
        self.extraArguments = extraArguments
        self.port = port
        self.password = password
        self.directory = directory
        self.child = Mutex(nil)
    }

    /// Starts `redis-server` on a free loopback port and waits (up to about 5 s) until it answers `PING`.
    ///
    /// - Parameters:
    ///   - password: When set, the server is started with `--requirepass`.
    ///   - extraArguments: Further `redis-server` options for the port chosen (a Redis Cluster node's, for
    ///     ``RedisClusterProcess``), made again for each port tried; relative file names in them are in the
    ///     server's own folder.
    /// - Throws: ``RedisServerProcessError`` when `redis-server` is not on `PATH` or does not come up.
    public static func start(
        password: String? = nil, extraArguments: (_ port: Int) throws -> [String] = { _ in [] }
    ) async throws -> RedisServerProcess {
        let executable = try Self.findRedisServer()
        // A free port (or one the extra arguments name, such as a cluster bus port) can be taken by someone else
        // (often another test's outgoing connection) before redis-server binds it; then redis-server exits at
        // once and other ports are tried.
        var attempt = 1
        while true {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("gatehouse-redis-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let port = try freeLoopbackPort()
            let server = RedisServerProcess(
                executable: executable,
                port: port,
                password: password,
                directory: directory,
                extraArguments: try extraArguments(port)
            )
            do {
                try await server.launch()
                return server
            } catch let error as RedisServerProcessError where error.exitedAtStart && attempt < 5 {
                server.stop()
                attempt += 1
            } catch {
                server.stop()
                throw error
            }
        }
    }

    /// Stops the server and starts it again on the same port, with an empty dataset (as after a crash without
    /// persistence). Returns once the new server answers `PING`.
    /// - Parameter extraArguments: Further `redis-server` options for this start only, after the server's own.
    public func restart(extraArguments: [String] = []) async throws {
        self.terminate()
        try await self.launch(extraArguments: extraArguments)
    }

    /// The `redis-server` options of an ACL user a test's own observer (a ``RedisChannelCollector``) signs in as,
    /// so that ``restartRefusingServices()`` can bring Redis back for the observer before the services under test.
    public static let observerUserArguments = ["--user", observerUser.name, "on", ">\(observerUser.password)", "~*", "&*", "+@all"]

    /// The observer's ACL user name and password.
    public static let observerUser = (name: "observer", password: "observer-secret-0123456789")

    /// Restarts the server (``restart(extraArguments:)``) with the `default` user, which the services under test
    /// use, switched off, so only the observer user (``observerUserArguments``, given at ``start(password:extraArguments:)``)
    /// gets in until ``admitServices()``. Redis delivers a message only to the subscribers it has when it is
    /// published, so a test that checks every message a service publishes after an outage lets its observer
    /// resubscribe first; a real subscriber refetches state after a resubscription for that.
    public func restartRefusingServices() async throws {
        try await self.restart(extraArguments: ["--user", "default", "off", "nopass", "~*", "&*", "+@all"])
    }

    /// Switches the `default` user back on after ``restartRefusingServices()``.
    public func admitServices() async throws {
        let run = try await CommandRun.run(
            "/usr/bin/env",
            [
                "redis-cli", "-h", self.host, "-p", "\(self.port)", "--user", Self.observerUser.name, "--pass", Self.observerUser.password,
                "--no-auth-warning", "ACL", "SETUSER", "default", "on",
            ]
        )
        guard run.standardOutput.hasPrefix("OK") else {
            throw RedisServerProcessError(description: "ACL SETUSER default on failed: \(run.transcript)", exitedAtStart: false)
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 2 s) but keeps its folder and port, so a test can
    /// see Redis down and then bring it back with ``restart()``.
    public func halt() {
        self.terminate()
    }

    /// Ends the server with SIGKILL, as a crash (nothing flushed, no goodbye to a cluster), but keeps its folder
    /// and port.
    public func crash() {
        self.takeChild()?.crash()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 2 s) and removes its folder. Safe to call more than once.
    /// Blocks the calling thread until the server has exited, which takes a few milliseconds.
    public func stop() {
        self.terminate()
        try? FileManager.default.removeItem(at: self.directory)
    }

    deinit {
        self.stop()
    }

    private var logFile: URL {
        self.directory.appendingPathComponent("redis.log")
    }

    private func launch(extraArguments: [String] = []) async throws {
        var arguments = [
            "--port", String(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", self.directory.path,
            "--logfile", self.logFile.path,
            "--enable-debug-command", "local",
        ]
        if let password = self.password {
            arguments += ["--requirepass", password]
        }
        arguments += self.extraArguments + extraArguments
        let child = try SpawnedProcess.spawn(executable: self.executable.path, arguments: arguments)
        self.child.withLock { $0 = child }

        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let exit = child.reapIfExited() {
                self.child.withLock { $0 = nil }
                throw RedisServerProcessError(
                    description: "redis-server exited at start (\(exit)); its log:\n\(self.logTail())",
                    exitedAtStart: true
                )
            }
            if redisAnswersPing(port: self.port) {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RedisServerProcessError(
            description: "redis-server on port \(self.port) did not answer PING within 5 s; its log:\n\(self.logTail())"
        )
    }

    /// Ends the child process this instance started, if it is running, and reaps it.
    private func terminate() {
        self.takeChild()?.terminate()
    }

    /// The running child, which is no longer this instance's to signal afterwards.
    private func takeChild() -> SpawnedProcess? {
        self.child.withLock { current -> SpawnedProcess? in
            defer { current = nil }
            return current
        }
    }

    private func logTail() -> String {
        guard let log = try? String(contentsOf: self.logFile, encoding: .utf8) else {
            return "(no log written)"
        }
        return log.split(separator: "\n").suffix(20).joined(separator: "\n")
    }

    static func findRedisServer() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("redis-server")
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        throw RedisServerProcessError(
            description: "redis-server is not on PATH (\(path)); install it with `apt-get install redis-server`"
        )
    }
}
