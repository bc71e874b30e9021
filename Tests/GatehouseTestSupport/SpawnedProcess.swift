#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, with an empty signal mask and default handlers for the
/// termination signals, and only its standard input, output and error open.
///
/// Foundation's `Process` lets the child inherit the test runner's signal mask, in which SIGTERM is blocked,
/// so a server started that way ignores SIGTERM. The owner must call ``reapIfExited()`` or ``terminate()``
/// and must not signal the PID once it has been reaped (the number may then belong to another process).
struct SpawnedProcess: Sendable {
    /// The child's process ID.
    let pid: pid_t

    /// Starts `executable` with `arguments`; stdin is /dev/null, stdout goes to `outputPath` (appended)
    /// or /dev/null, stderr to `errorPath` or, without one, to stdout's file. `environment` replaces the
    /// test runner's environment when given.
    static func spawn(
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        outputPath: String? = nil,
        errorPath: String? = nil
    ) throws -> SpawnedProcess {
        #if canImport(Darwin)
        var fileActions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var fileActions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&fileActions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        }
        #if canImport(Glibc)
        // Nothing else of the test process: a service running in it must not have its listening socket
        // kept open (and answering nobody) by a child after it stops.
        // (glibc 2.34 has the call; its header declares it only under _GNU_SOURCE.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let closeFrom = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&fileActions, 3)
        }
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultHandlers = sigset_t()
        sigemptyset(&defaultHandlers)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] {
            sigaddset(&defaultHandlers, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaultHandlers)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) }
        argv.append(nil)
        defer {
            for argument in argv {
                free(argument)
            }
        }
        var pid: pid_t = 0
        let result: Int32
        if let environment {
            var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") }
            envp.append(nil)
            defer {
                for entry in envp {
                    free(entry)
                }
            }
            result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        } else {
            result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, environ)
        }
        guard result == 0 else {
            throw RedisServerProcessError(
                description: "Could not start \(executable): \(String(cString: strerror(result)))"
            )
        }
        return SpawnedProcess(pid: pid)
    }

    /// Reaps the child if it has exited; returns its exit description then, or `nil` while it runs.
    func reapIfExited() -> String? {
        var status: Int32 = 0
        let result = waitpid(self.pid, &status, WNOHANG)
        if result == 0 {
            return nil
        }
        if result == self.pid {
            return "wait status \(status)"
        }
        return "not waitable (\(String(cString: strerror(errno))))"
    }

    /// Sends SIGKILL at once (the child cannot clean up, as in a crash) and reaps it.
    func crash() {
        if self.reapIfExited() != nil {
            return
        }
        kill(self.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(self.pid, &status, 0)
    }

    /// Sends SIGTERM, waits up to `gracePeriod` for the child to exit, then sends SIGKILL; always reaps it.
    func terminate(gracePeriod: Duration = .seconds(2)) {
        if self.reapIfExited() != nil {
            return
        }
        kill(self.pid, SIGTERM)
        let deadline = ContinuousClock.now + gracePeriod
        while ContinuousClock.now < deadline {
            if self.reapIfExited() != nil {
                return
            }
            usleep(5_000)
        }
        kill(self.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(self.pid, &status, 0)
    }
}
