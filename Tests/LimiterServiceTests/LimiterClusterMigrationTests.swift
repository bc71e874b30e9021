import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import Testing

/// A hash slot moves from one primary to another (`CLUSTER SETSLOT … IMPORTING/MIGRATING`, `MIGRATE`,
/// `CLUSTER SETSLOT … NODE`) while limiters decide checks on its counters: every check is decided by Redis
/// (no fallback, no error) and each counter admits exactly its limit (nothing counted twice or lost).
/// The limiters are child processes: two of them, each with its own connections and slot map, configured
/// for the cluster by their environment alone, as deployed.
@Suite(.timeLimit(.minutes(5)))
struct LimiterClusterMigrationTests {
    static let callers = (0..<6).map { "192.0.2.\($0)" }
    static let policies = ["gcra", "bucket", "fixed"]

    @Test func aSlotMigrationDuringLoadFailsNoDecisionAndCountsNothingTwice() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        let folder = try TestFolder()
        try folder.write("policies.yaml", LimiterExactnessTests.policies(limit: 100))
        let limiters = try await LimiterProcess.start(2, on: cluster, folder: folder)
        // The first caller's counters (`gh:<policy>:{192.0.2.0}`, one slot) move to another primary.
        let slot = RedisHashSlot.slot(of: Self.callers[0])
        let source = try await cluster.primary(ofSlot: slot)
        let target = try #require(cluster.nodes.prefix(3).first { $0 !== source })

        try await withClients(limiters) { clients in
            let answers = try await withThrowingTaskGroup(of: [(String, Gatehouse_Limiter_CheckResponse)].self) { group in
                group.addTask {
                    try await Task.sleep(for: .milliseconds(300))
                    try await Self.migrate(slot: slot, from: source, to: target, in: cluster)
                    return []
                }
                // 25 waves, 80 ms apart, of 6 checks per counter: 150 checks for a limit of 100.
                for wave in 0..<25 {
                    for caller in Self.callers {
                        for policy in Self.policies {
                            for call in 0..<6 {
                                group.addTask {
                                    let client = clients[(wave + call) % clients.count]
                                    return [("\(policy) \(caller)", try await client.check(policy: policy, key: caller))]
                                }
                            }
                        }
                    }
                    try await Task.sleep(for: .milliseconds(80))
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(try await cluster.primary(ofSlot: slot) === target, "the slot moved during the load")
            #expect(answers.count == 25 * Self.callers.count * Self.policies.count * 6)
            let notRedis = answers.filter { $0.1.source != .redis && $0.1.source != .denialCache }
            #expect(notRedis.isEmpty, "decided without Redis: \(notRedis.prefix(5).map { "\($0.0): \($0.1.source)" })")
            for caller in Self.callers {
                for policy in Self.policies {
                    let allowed = answers.filter { $0.0 == "\(policy) \(caller)" && $0.1.allowed }.count
                    #expect(allowed == 100, "\(policy) for \(caller) admitted \(allowed) of 150 with limit 100")
                }
            }
        }
    }

    /// Moves `slot` and its keys from `source` to `target`, as `redis-cli --cluster reshard` does.
    private static func migrate(slot: Int, from source: RedisServerProcess, to target: RedisServerProcess, in cluster: RedisClusterProcess) async throws {
        let sourceID = try await cluster.nodeID(of: source)
        let targetID = try await cluster.nodeID(of: target)
        _ = try await cluster.cli(target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID])
        _ = try await cluster.cli(source, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID])
        let keys = try await cluster.cli(source, ["CLUSTER", "GETKEYSINSLOT", String(slot), "100"])
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        if !keys.isEmpty {
            _ = try await cluster.cli(source, ["MIGRATE", target.host, String(target.port), "", "0", "5000", "KEYS"] + keys)
        }
        for node in [target, source] + cluster.nodes.filter({ $0 !== source && $0 !== target }) {
            _ = try await cluster.cli(node, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
        }
    }
}
