import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ``ServiceProcess`` did not do what a test waited for; the description ends with the log's tail.
public struct ServiceProcessError: Error, CustomStringConvertible {
    /// What was awaited, and the last lines the service wrote.
    public let description: String

    /// An error saying `description`.
    public init(description: String) {
        self.description = description
    }
}

/// How a child process ended.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// It called `exit` with this code.
    case exited(Int32)
    /// A signal ended it.
    case signalled(Int32)

    init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signalled(status & 0x7f)
        }
    }

    /// `exit 0` or `signal 9`.
    public var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signalled(let signal): "signal \(signal)"
        }
    }
}

/// One of the package's executables (`limiter`, `data-service`, …) running as a child process, its standard
/// output and error captured in a log file, so end-to-end tests can signal it, kill it and read its log.
///
/// The child gets only the environment the test passes (plus `PATH`), never the runner's. Only this child is
/// ever signalled, by its PID, and never after it has been reaped.
public final class ServiceProcess: Sendable {
    /// The executable's name.
    public let product: String
    /// The file holding the child's standard output and error.
    public let logPath: String
    /// The child's process ID.
    public let pid: pid_t
    private let exit: Mutex<ProcessExit?>

    private init(product: String, logPath: String, pid: pid_t) {
        self.product = product
        self.logPath = logPath
        self.pid = pid
        self.exit = Mutex(nil)
    }

    /// Starts a product of this package from the build products directory.
    /// - Parameters:
    ///   - product: The executable's name, e.g. `limiter`.
    ///   - arguments: Its arguments.
    ///   - environment: Its environment (besides `PATH`).
    ///   - logPath: Where its output goes (appended, so a restarted service keeps one log).
    public static func start(
        product: String,
        arguments: [String] = [],
        environment: [String: String],
        logPath: String
    ) throws -> ServiceProcess {
        try self.start(
            name: product, executable: TestEnvironment.productsDirectory.appendingPathComponent(product).path,
            arguments: arguments, environment: environment, logPath: logPath
        )
    }

    /// Starts any executable (a script of the package, say) the same way.
    /// - Parameters:
    ///   - name: What error messages call it.
    ///   - executable: Its path.
    ///   - arguments: Its arguments.
    ///   - environment: Its environment (besides `PATH`).
    ///   - logPath: Where its output goes (appended).
    public static func start(
        name: String,
        executable: String,
        arguments: [String] = [],
        environment: [String: String],
        logPath: String
    ) throws -> ServiceProcess {
        var childEnvironment = environment
        childEnvironment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let child = try SpawnedProcess.spawn(
            executable: executable,
            arguments: arguments,
            environment: childEnvironment,
            outputPath: logPath
        )
        return ServiceProcess(product: name, logPath: logPath, pid: child.pid)
    }

    /// Everything the child has written so far.
    public var log: String {
        (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
    }

    /// The log's JSON lines (services started with `log.format: json`), parsed; other lines are skipped.
    public var jsonLogLines: [[String: Any]] {
        self.log.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// How the child ended, once it has; reaps it if it just did.
    public var exitStatus: ProcessExit? {
        self.exit.withLock { exit in
            if exit == nil {
                var status: Int32 = 0
                if waitpid(self.pid, &status, WNOHANG) == self.pid {
                    exit = ProcessExit(waitStatus: status)
                }
            }
            return exit
        }
    }

    /// Sends `signal` to the child unless it has already ended.
    public func send(signal: Int32) {
        self.exit.withLock { exit in
            if exit == nil { _ = Glibc.kill(self.pid, signal) }
        }
    }

    /// Waits for the first JSON log line whose `msg` is `message` (and that has every field of `fields`).
    /// - Returns: The line's fields.
    /// - Throws: ``ServiceProcessError`` if the child exits first or `timeout` passes.
    @discardableResult
    public func waitForLog(message: String, fields: [String: String] = [:], timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let match = self.jsonLogLines.first { line in
                line["msg"] as? String == message && fields.allSatisfy { line[$0.key] as? String == $0.value }
            }
            if let match { return match }
            if let exit = self.exitStatus {
                throw ServiceProcessError(description: "\(self.product) ended (\(exit)) before logging '\(message)'\n\(self.logTail)")
            }
            if ContinuousClock.now >= deadline {
                throw ServiceProcessError(description: "\(self.product) did not log '\(message)' within \(timeout)\n\(self.logTail)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the child has ended.
    /// - Throws: ``ServiceProcessError`` if it still runs after `timeout`.
    public func waitForExit(timeout: Duration) async throws -> ProcessExit {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let exit = self.exitStatus { return exit }
            if ContinuousClock.now >= deadline {
                throw ServiceProcessError(description: "\(self.product) still runs \(timeout) later\n\(self.logTail)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGKILL, as in a crash, and reaps the child.
    public func kill() {
        self.exit.withLock { exit in
            guard exit == nil else { return }
            _ = Glibc.kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
            exit = ProcessExit(waitStatus: status)
        }
    }

    /// SIGTERM, then SIGKILL if the child still runs after `gracePeriod`.
    public func stop(gracePeriod: Duration = .seconds(5)) {
        self.send(signal: SIGTERM)
        let deadline = ContinuousClock.now + gracePeriod
        while self.exitStatus == nil, ContinuousClock.now < deadline {
            usleep(5_000)
        }
        self.kill()
    }

    /// The last 30 lines of the log, for error messages.
    public var logTail: String {
        self.log.split(separator: "\n", omittingEmptySubsequences: false).suffix(30).joined(separator: "\n")
    }

    deinit {
        self.kill()
    }
}
