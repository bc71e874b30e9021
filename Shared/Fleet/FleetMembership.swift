#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GatehouseRedis
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// This process's membership in the Gatehouse fleet, and the fleet's live size: edges and limiters announce
/// themselves in Redis with a short time to live, so the number of replicas sharing a limit is counted, not
/// configured.
///
/// Every ``heartbeat`` the process runs one script that adds itself to its role's sorted set
/// (`{gh:fleet}:edges` or `{gh:fleet}:limiters`, member = ``memberID``, score = the moment it expires by
/// Redis' clock: now + ``timeToLive``), drops members whose moment has passed, and answers both sets' sizes.
/// A process that stops gracefully removes itself at once; one that crashes is gone from the count within
/// ``timeToLive``. While Redis cannot be reached the last count stays in force (``size`` is `nil` only
/// until the first answer).
///
/// Exported: `gatehouse_fleet_live{role}`, the counted edges and limiters.
public final class FleetMembership: Service, Sendable {
    /// What kind of Gatehouse process this is.
    public enum Role: String, Sendable {
        /// An edge router.
        case edge
        /// A limiter.
        case limiter
    }

    /// The live members by role.
    public struct Size: Sendable, Equatable {
        /// Live edge routers (at least 1 once counted by an edge).
        public var edges: Int
        /// Live limiters.
        public var limiters: Int

        /// Creates a size.
        public init(edges: Int, limiters: Int) {
            self.edges = edges
            self.limiters = limiters
        }
    }

    /// The sorted sets, one hash slot for both (Redis Cluster).
    static let keys = ["{gh:fleet}:edges", "{gh:fleet}:limiters"]

    /// The position of `role`'s set in ``keys``.
    static func keyIndex(_ role: Role) -> Int {
        role == .edge ? 0 : 1
    }

    static let script = RedisScript(source: """
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        if ARGV[1] ~= '0' then
          redis.call('ZADD', KEYS[tonumber(ARGV[1])], now + ttl, ARGV[2])
        end
        local sizes = {}
        for i = 1, #KEYS do
          redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
          sizes[i] = redis.call('ZCARD', KEYS[i])
          if sizes[i] > 0 then
            redis.call('PEXPIRE', KEYS[i], 10 * ttl)
          end
        end
        return sizes
        """)

    /// This process's member name: unique per process start.
    public let memberID: String
    /// What this process is.
    public let role: Role
    /// How often this process announces itself and counts the others.
    public let heartbeat: Duration
    /// How long an announcement lasts.
    public let timeToLive: Duration

    private let client: RedisClient
    private let logger: Logger
    private let counted = Mutex<Size?>(nil)
    private let failing = Atomic<Bool>(false)

    private static let live = [Role.edge, .limiter].map { Gauge(label: "gatehouse_fleet_live", dimensions: [("role", $0.rawValue)]) }

    /// Creates a membership; it announces itself once ``run()`` is going.
    /// - Parameters:
    ///   - client: A Redis client whose `run()` is going, listed before this service in the service group so
    ///     that it is still running when this one removes itself at shutdown.
    ///   - role: What this process is.
    ///   - memberID: A name unique to this process start (e.g. host, PID and a random suffix).
    ///   - heartbeat: How often to announce and count (default 1 s).
    ///   - timeToLive: How long one announcement lasts (default 3 s): a crashed member is counted that long.
    ///   - logger: Receives a line when Redis stops or starts answering.
    public init(
        client: RedisClient, role: Role, memberID: String, heartbeat: Duration = .seconds(1), timeToLive: Duration = .seconds(3),
        logger: Logger
    ) {
        self.client = client
        self.role = role
        self.memberID = memberID
        self.heartbeat = heartbeat
        self.timeToLive = timeToLive
        self.logger = logger
    }

    /// The fleet as last counted; `nil` until Redis first answered.
    public var size: Size? {
        self.counted.withLock { $0 }
    }

    /// Announces this process every ``heartbeat`` until a graceful shutdown, then leaves the fleet.
    public func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.beat(announce: true)
                try? await Task.sleep(for: self.heartbeat)
            }
        }
        await self.leave()
    }

    /// Announces this process (or, with `announce` false, only counts) and updates ``size``.
    func beat(announce: Bool) async {
        // The script's set to announce in, counted from 1 as Lua does; 0 announces nothing.
        let roleIndex = announce ? String(Self.keyIndex(self.role) + 1) : "0"
        let ttl = String(self.timeToLive.components.seconds * 1000 + self.timeToLive.components.attoseconds / 1_000_000_000_000_000)
        do {
            let reply = try await self.client.evalScript(Self.script, keys: Self.keys, arguments: [roleIndex, self.memberID, ttl])
            guard let values = reply.array, values.count == 2, let edges = values[0].int, let limiters = values[1].int else {
                throw FleetReplyError(reply: "\(reply)")
            }
            let size = Size(edges: edges, limiters: limiters)
            self.counted.withLock { $0 = size }
            Self.live[0].record(edges)
            Self.live[1].record(limiters)
            if self.failing.exchange(false, ordering: .relaxed) {
                self.logger.notice("fleet counted again", metadata: ["fleet.edges": "\(edges)", "fleet.limiters": "\(limiters)"])
            }
        } catch {
            if !self.failing.exchange(true, ordering: .relaxed) {
                self.logger.warning("cannot count the fleet in Redis; the last count stays in force", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Removes this process from its set, so the others count one fewer at once.
    private func leave() async {
        let key = Self.keys[Self.keyIndex(self.role)]
        _ = try? await self.client.send(["ZREM", key, self.memberID])
    }
}

/// Redis answered the fleet script with something other than two integers.
struct FleetReplyError: Error, CustomStringConvertible {
    let reply: String
    var description: String { "the fleet script answered \(self.reply), not two integers" }
}

extension FleetMembership {
    /// A member name unique to this process start: the host name, the process ID and 8 random hex digits.
    public static func processMemberID() -> String {
        var host = [CChar](repeating: 0, count: 256)
        let name = gethostname(&host, host.count) == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        return "\(name)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }
}
