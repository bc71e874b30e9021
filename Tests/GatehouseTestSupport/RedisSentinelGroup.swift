import Foundation
import GatehouseRedis
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis primary with one replica and three sentinels (`redis-server <file> --sentinel`), each a child
/// process on a free loopback port, for failover tests.
///
/// The sentinels monitor the primary as ``masterName`` with quorum 2, `down-after-milliseconds 1000` and
/// `failover-timeout 5000`; their configuration files (which they rewrite) and every log are in one temporary
/// folder. ``start()`` returns once every sentinel names the primary and knows the replica and the two other
/// sentinels, so that a failover can be authorized. ``stop()`` (or deinit) ends every process this group
/// started, by its PID, and removes the folder; ``start()`` does so itself when it fails.
public final class RedisSentinelGroup: Sendable {
    /// The name the sentinels monitor the primary under.
    public static let masterName = "gatehouse"

    /// The sentinels' addresses.
    public let sentinels: [RedisServerAddress]
    /// The ports of the two data nodes: the first primary, then its replica.
    public let serverPorts: [Int]

    private let directory: URL
    /// The running children by port; removed once reaped (their PIDs must not be signalled then).
    private let children: Mutex<[Int: SpawnedProcess]>

    private init(serverPorts: [Int], sentinelPorts: [Int], directory: URL) {
        self.serverPorts = serverPorts
        self.sentinels = sentinelPorts.map { RedisServerAddress(host: "127.0.0.1", port: $0) }
        self.directory = directory
        self.children = Mutex([:])
    }

    /// Starts the primary, the replica and the three sentinels, and waits (up to about 20 s) until the
    /// sentinels agree on the primary and know the replica and each other.
    ///
    /// - Throws: ``RedisServerProcessError`` when `redis-server` is not on `PATH` or the group does not come up
    ///   (with the logs); every process started is stopped then.
    public static func start() async throws -> RedisSentinelGroup {
        let executable = try RedisServerProcess.findRedisServer()
        // A free port can be taken before redis-server binds it; then the whole group is started again.
        var attempt = 1
        while true {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("gatehouse-sentinel-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let group = RedisSentinelGroup(
                serverPorts: try (0..<2).map { _ in try freeLoopbackPort() },
                sentinelPorts: try (0..<3).map { _ in try freeLoopbackPort() },
                directory: directory
            )
            do {
                try await group.launch(executable: executable.path)
                return group
            } catch let error as RedisServerProcessError where error.exitedAtStart && attempt < 3 {
                group.stop()
                attempt += 1
            } catch {
                group.stop()
                throw error
            }
        }
    }

    /// A client configuration in sentinel mode for this group, with the defaults of every other setting (as a
    /// service has them: reconnect delays from 50 ms to 2 s).
    public var configuration: RedisConfiguration {
        RedisConfiguration(topology: .sentinel(masterName: Self.masterName, sentinels: self.sentinels))
    }

    /// The environment variables that put a service with the variable prefix `prefix` (`LIMITER`, `DATA`, …) in
    /// sentinel mode for this group; `<PREFIX>_REDIS_PORT` is empty (unset), as sentinel mode refuses one.
    public func environment(prefix: String) -> [String: String] {
        [
            "\(prefix)_REDIS_MODE": "sentinel",
            "\(prefix)_REDIS_SENTINEL_ADDRESSES": self.sentinels.map(\.description).joined(separator: ","),
            "\(prefix)_REDIS_SENTINEL_MASTER_NAME": Self.masterName,
            "\(prefix)_REDIS_PORT": "",
        ]
    }

    /// The port of the primary as the first sentinel that answers names it.
    public func primaryPort() async throws -> Int {
        var lastError: (any Error)?
        for sentinel in self.sentinels {
            do {
                return try await self.primaryPort(accordingTo: sentinel.port)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RedisServerProcessError(description: "no sentinel answered")
    }

    /// Kills the current primary with SIGKILL (no shutdown, as a crash) and returns its port.
    @discardableResult
    public func killPrimary() async throws -> Int {
        let port = try await self.primaryPort()
        let child = self.children.withLock { $0.removeValue(forKey: port) }
        guard let child else {
            throw RedisServerProcessError(description: "the primary on port \(port) is not a process of this group")
        }
        kill(child.pid, SIGKILL)
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
        return port
    }

    /// Asks a sentinel for a failover while the primary is healthy (`SENTINEL FAILOVER`, as an operator does
    /// before maintenance): the replica is promoted and the former primary becomes its replica. Returns the
    /// former primary's port; ``waitForFailover(from:timeout:)`` waits for the outcome.
    @discardableResult
    public func failOver() async throws -> Int {
        let port = try await self.primaryPort()
        // A sentinel answers NOGOODSLAVE until it has a recent enough INFO from the replica (on a loaded
        // machine, a while after the group started): ask again for up to 30 s.
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                let reply = try await Self.ask(port: self.sentinels[0].port, ["SENTINEL", "FAILOVER", Self.masterName])
                guard reply == .simpleString("OK") else {
                    throw RedisServerProcessError(description: "SENTINEL FAILOVER answered \(reply)")
                }
                return port
            } catch let error as RedisError where error.serverErrorPrefix == "NOGOODSLAVE" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Waits until every sentinel names a primary other than `formerPort` and that node says it is a master.
    ///
    /// - Returns: The new primary's port.
    /// - Throws: ``RedisServerProcessError`` with the sentinels' logs when that does not happen within `timeout`.
    public func waitForFailover(from formerPort: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = try? await self.agreedPrimary(), port != formerPort,
                (try? await Self.ask(port: port, ["ROLE"]))?.array?.first?.string == "master"
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RedisServerProcessError(
            description: "the sentinels did not move the primary away from port \(formerPort) within \(timeout); logs:\n\(self.logTails())"
        )
    }

    /// Ends every process of the group that still runs (SIGTERM, then SIGKILL after 2 s) and removes the
    /// folder. Safe to call more than once.
    public func stop() {
        let running = self.children.withLock { children -> [SpawnedProcess] in
            defer { children.removeAll() }
            return Array(children.values)
        }
        for child in running {
            child.terminate()
        }
        try? FileManager.default.removeItem(at: self.directory)
    }

    deinit {
        self.stop()
    }

    // MARK: - Start-up

    private func launch(executable: String) async throws {
        let primary = self.serverPorts[0]
        try self.spawn(executable: executable, port: primary, arguments: self.serverArguments(port: primary))
        try self.spawn(
            executable: executable,
            port: self.serverPorts[1],
            arguments: self.serverArguments(port: self.serverPorts[1]) + ["--replicaof", "127.0.0.1", String(primary)]
        )
        try await self.waitUntilAnswering(ports: self.serverPorts)
        for sentinel in self.sentinels {
            let file = self.directory.appendingPathComponent("sentinel-\(sentinel.port).conf")
            try """
            port \(sentinel.port)
            bind 127.0.0.1
            dir \(self.directory.path)
            logfile \(self.logPath(port: sentinel.port))
            sentinel monitor \(Self.masterName) 127.0.0.1 \(primary) 2
            sentinel down-after-milliseconds \(Self.masterName) 1000
            sentinel failover-timeout \(Self.masterName) 5000
            sentinel parallel-syncs \(Self.masterName) 1

            """.write(to: file, atomically: true, encoding: .utf8)
            try self.spawn(executable: executable, port: sentinel.port, arguments: [file.path, "--sentinel"])
        }
        try await self.waitUntilAnswering(ports: self.sentinels.map(\.port))
        try await self.waitUntilSentinelsAgree(on: primary)
    }

    private func serverArguments(port: Int) -> [String] {
        [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path, "--dbfilename", "dump-\(port).rdb", "--logfile", self.logPath(port: port),
            // A replica's sync starts at once (Redis waits 5 s for more replicas by default).
            "--repl-diskless-sync-delay", "0",
        ]
    }

    private func spawn(executable: String, port: Int, arguments: [String]) throws {
        let child = try SpawnedProcess.spawn(executable: executable, arguments: arguments)
        self.children.withLock { $0[port] = child }
    }

    private func waitUntilAnswering(ports: [Int]) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        var waiting = Set(ports)
        while !waiting.isEmpty {
            for port in waiting {
                let exited = self.children.withLock { children -> String? in
                    guard let exit = children[port]?.reapIfExited() else { return nil }
                    children[port] = nil
                    return exit
                }
                if let exited {
                    throw RedisServerProcessError(
                        description: "redis-server on port \(port) exited at start (\(exited)); logs:\n\(self.logTails())",
                        exitedAtStart: true
                    )
                }
                if redisAnswersPing(port: port) {
                    waiting.remove(port)
                }
            }
            guard ContinuousClock.now < deadline else {
                throw RedisServerProcessError(description: "ports \(waiting.sorted()) did not answer PING within 5 s; logs:\n\(self.logTails())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until every sentinel names `primary`, sees it up, and knows one replica and two other sentinels.
    private func waitUntilSentinelsAgree(on primary: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            var agreeing = 0
            for sentinel in self.sentinels {
                guard let fields = try? await Self.ask(port: sentinel.port, ["SENTINEL", "master", Self.masterName]).array else {
                    continue
                }
                var master: [String: String] = [:]
                for index in stride(from: 0, to: fields.count - 1, by: 2) {
                    if let name = fields[index].string, let value = fields[index + 1].string {
                        master[name] = value
                    }
                }
                if master["port"] == String(primary), master["flags"] == "master", master["num-slaves"] == "1",
                    master["num-other-sentinels"] == "2"
                {
                    agreeing += 1
                }
            }
            if agreeing == self.sentinels.count {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RedisServerProcessError(description: "the sentinels did not agree on the primary within 20 s; logs:\n\(self.logTails())")
    }

    // MARK: - Asking

    /// The primary's port if every sentinel names the same one.
    private func agreedPrimary() async throws -> Int? {
        var ports: Set<Int> = []
        for sentinel in self.sentinels {
            ports.insert(try await self.primaryPort(accordingTo: sentinel.port))
        }
        return ports.count == 1 ? ports.first : nil
    }

    private func primaryPort(accordingTo sentinelPort: Int) async throws -> Int {
        let reply = try await Self.ask(port: sentinelPort, ["SENTINEL", "get-master-addr-by-name", Self.masterName])
        guard let parts = reply.array, parts.count == 2, let port = parts[1].int else {
            throw RedisServerProcessError(description: "the sentinel on port \(sentinelPort) answered \(reply)")
        }
        return port
    }

    /// Sends one command to 127.0.0.1:`port` on a connection of its own, closed afterwards.
    private static func ask(port: Int, _ command: [String]) async throws -> RESPValue {
        var logger = Logger(label: "test.sentinel-group")
        logger.logLevel = .critical
        let client = RedisClient(
            configuration: RedisConfiguration(port: port, connectTimeout: .milliseconds(500), commandTimeout: .seconds(2), poolSize: 1),
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            return try await client.send(command)
        }
    }

    private func logPath(port: Int) -> String {
        self.directory.appendingPathComponent("redis-\(port).log").path
    }

    private func logTails() -> String {
        (self.serverPorts + self.sentinels.map(\.port)).map { port in
            let log = (try? String(contentsOfFile: self.logPath(port: port), encoding: .utf8)) ?? "(no log written)"
            return "--- port \(port)\n" + log.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
