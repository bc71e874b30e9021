import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a command run to its end printed, and how it ended.
public struct CommandRun: Sendable {
    /// How it ended.
    public let exit: ProcessExit
    /// Its standard output.
    public let standardOutput: String
    /// Its standard error.
    public let standardError: String

    /// The exit and both streams, for failure messages.
    public var transcript: String { "\(self.exit)\n\(self.standardOutput)\(self.standardError)" }

    /// Runs `executable` to its end: standard input empty, each output stream in a file of its own (so
    /// neither can fill up and block it), the environment exactly `environment` plus `PATH`.
    ///
    /// Started with `posix_spawn` and reaped by its PID (never Foundation's `Process`, whose termination
    /// handler has been seen never to run on Linux when many children come and go).
    /// - Throws: ``ServiceProcessError`` when it still runs after `timeout` (it is then killed).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandRun {
        let folder = try TestFolder()
        var childEnvironment = environment
        childEnvironment["PATH"] = childEnvironment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        // posix_spawn has no portable working-directory action: a shell changes into it, then becomes the command.
        let (program, argv) = directory.map { ("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, $0, executable] + arguments) } ?? (executable, arguments)
        let child = try SpawnedProcess.spawn(
            executable: program, arguments: argv, environment: childEnvironment,
            outputPath: folder.path("stdout"), errorPath: folder.path("stderr")
        )
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while waitpid(child.pid, &status, WNOHANG) != child.pid {
            if ContinuousClock.now >= deadline {
                child.terminate()
                throw ServiceProcessError(description: "\(executable) \(arguments.joined(separator: " ")) still ran after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return CommandRun(
            exit: ProcessExit(waitStatus: status),
            standardOutput: (try? String(contentsOfFile: folder.path("stdout"), encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: folder.path("stderr"), encoding: .utf8)) ?? ""
        )
    }
}
