import Foundation

/// A throwaway Redis Cluster for tests: three primaries and three replicas, each a ``RedisServerProcess``
/// (`redis-server --cluster-enabled yes`) on free loopback ports, joined with
/// `redis-cli --cluster create … --cluster-replicas 1`. `cluster-require-full-coverage` is off, so the other
/// primaries keep answering while a lost primary's replica takes over, and `cluster-replica-validity-factor`
/// is 0, so a replica takes over however long ago it last heard from its primary.
///
/// ``start(nodeTimeout:)`` returns once every node reports `cluster_state:ok` and every replica's link to its
/// primary is up. ``stop()`` ends every server
/// it started (each by its PID) and removes their folders; a failed start does the same, and so does deinit
/// if a test forgets.
public final class RedisClusterProcess: Sendable {
    /// Every node, in the order given to `redis-cli --cluster create`: the first three became primaries.
    public let nodes: [RedisServerProcess]

    private init(nodes: [RedisServerProcess]) {
        self.nodes = nodes
    }

    /// `127.0.0.1:<port>` of every node, for `redis.cluster.seeds`.
    public var seeds: [String] {
        self.nodes.map { "\($0.host):\($0.port)" }
    }

    /// Starts six nodes, makes a cluster of them and waits (up to about 30 s) until every node reports
    /// `cluster_state:ok`.
    ///
    /// - Parameter nodeTimeout: `cluster-node-timeout`: how long a primary may be unreachable before its
    ///   replica takes over.
    /// - Throws: ``RedisServerProcessError`` when a node does not come up or the cluster does not form; every
    ///   node started is stopped first.
    public static func start(nodeTimeout: Duration = .milliseconds(1000)) async throws -> RedisClusterProcess {
        var nodes: [RedisServerProcess] = []
        do {
            let timeout = nodeTimeout.components.seconds * 1000 + nodeTimeout.components.attoseconds / 1_000_000_000_000_000
            for _ in 0..<6 {
                nodes.append(
                    try await RedisServerProcess.start { port in
                        [
                            "--cluster-enabled", "yes",
                            "--cluster-config-file", "nodes.conf",
                            "--cluster-node-timeout", String(timeout),
                            "--cluster-require-full-coverage", "no",
                            "--cluster-replica-validity-factor", "0",
                            // A replica's first sync starts at once (Redis waits 5 s for more replicas by default).
                            "--repl-diskless-sync-delay", "0",
                            // The bus port is chosen too: the default, port + 10000, may be past 65535 or taken.
                            "--cluster-port", String(try Self.freeBusPort(besides: port)),
                        ]
                    }
                )
            }
            let cluster = RedisClusterProcess(nodes: nodes)
            let created = try await CommandRun.run(
                try Self.redisCLI(),
                ["--cluster", "create"] + cluster.seeds + ["--cluster-replicas", "1", "--cluster-yes"],
                timeout: .seconds(60)
            )
            guard created.exit == .exited(0) else {
                throw RedisServerProcessError(description: "redis-cli --cluster create failed: \(created.transcript)")
            }
            try await cluster.waitUntilHealthy(timeout: .seconds(30))
            try await cluster.waitUntilReplicasAreInSync(timeout: .seconds(30))
            return cluster
        } catch {
            for node in nodes {
                node.stop()
            }
            throw error
        }
    }

    /// A free loopback port other than the node's own (the kernel may hand out the same free port twice in a row).
    private static func freeBusPort(besides port: Int) throws -> Int {
        while true {
            let candidate = try freeLoopbackPort()
            if candidate != port { return candidate }
        }
    }

    /// Waits until every running node reports `cluster_state:ok` (after a failover: once the replica took over).
    /// - Parameter except: Nodes not asked (stopped ones).
    /// - Throws: ``RedisServerProcessError`` naming the nodes still not ok after `timeout`.
    public func waitUntilHealthy(timeout: Duration, except: [RedisServerProcess] = []) async throws {
        let deadline = ContinuousClock.now + timeout
        var notOK: [String] = []
        repeat {
            notOK = []
            for node in self.nodes where !except.contains(where: { $0 === node }) {
                let info = try await self.cli(node, ["CLUSTER", "INFO"])
                if !info.contains("cluster_state:ok") {
                    notOK.append("\(node.port)")
                }
            }
            if notOK.isEmpty {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        throw RedisServerProcessError(description: "Redis Cluster nodes \(notOK) did not report cluster_state:ok within \(timeout)")
    }

    /// Waits until every replica reports `master_link_status:up` (its first sync is done).
    private func waitUntilReplicasAreInSync(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            var syncing: [Int] = []
            for node in self.nodes {
                let replication = try await self.cli(node, ["INFO", "replication"])
                if replication.contains("role:slave"), !replication.contains("master_link_status:up") {
                    syncing.append(node.port)
                }
            }
            if syncing.isEmpty {
                return
            }
            guard ContinuousClock.now < deadline else {
                throw RedisServerProcessError(description: "Redis Cluster replicas \(syncing) did not sync with their primaries within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs `redis-cli -p <node's port> <arguments>` and returns what it printed.
    /// - Throws: ``RedisServerProcessError`` when redis-cli fails.
    public func cli(_ node: RedisServerProcess, _ arguments: [String]) async throws -> String {
        let run = try await CommandRun.run(try Self.redisCLI(), ["-h", node.host, "-p", String(node.port)] + arguments, timeout: .seconds(30))
        guard run.exit == .exited(0) else {
            throw RedisServerProcessError(description: "redis-cli \(arguments.joined(separator: " ")) failed: \(run.transcript)")
        }
        return run.standardOutput
    }

    /// The node ID of `node` (`CLUSTER MYID`), for `CLUSTER SETSLOT`.
    public func nodeID(of node: RedisServerProcess) async throws -> String {
        try await self.cli(node, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The primary that owns `slot`, as `CLUSTER NODES` on `asking` (the first node by default) says.
    /// - Throws: ``RedisServerProcessError`` when no node owns it.
    public func primary(ofSlot slot: Int, asking: RedisServerProcess? = nil) async throws -> RedisServerProcess {
        let listing = try await self.cli(asking ?? self.nodes[0], ["CLUSTER", "NODES"])
        for line in listing.split(separator: "\n") {
            // <id> <ip:port@bus> <flags> <primary> <ping> <pong> <epoch> <link> <slot ranges…>
            let fields = line.split(separator: " ")
            guard fields.count > 8, fields[2].contains("master"), !fields[2].contains("fail"),
                let port = fields[1].split(separator: "@").first?.split(separator: ":").last.flatMap({ Int($0) })
            else {
                continue
            }
            for range in fields[8...] where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if let first = bounds.first, (first...(bounds.last ?? first)).contains(slot),
                    let node = self.nodes.first(where: { $0.port == port })
                {
                    return node
                }
            }
        }
        throw RedisServerProcessError(description: "no primary owns slot \(slot):\n\(listing)")
    }

    /// Stops every node (each by its PID) and removes their folders. Safe to call more than once.
    public func stop() {
        for node in self.nodes {
            node.stop()
        }
    }

    deinit {
        self.stop()
    }

    private static func redisCLI() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/redis-cli"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw RedisServerProcessError(description: "redis-cli is not on PATH (\(path)); install it with `apt-get install redis-tools`")
    }
}
