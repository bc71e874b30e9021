import Foundation
import GatehouseAuthAPI
import GatehouseNIOSupport
import GatehouseRedis
import Logging
import Metrics
import ServiceLifecycle

/// Keeps the signing keys current and tells the edges: rotates keys when the schedule says so, retires
/// keys whose tokens have expired, reloads keys changed by the CLI, and publishes key events and
/// revocation events to Redis.
///
/// Revocations are rows in the database before they are events, so none is lost: a revocation made while
/// Redis is down (or by the CLI, or just before a crash) is published, in version order, as soon as Redis
/// answers; rows are marked published only after `PUBLISH` succeeded. The issuer's own revocations signal
/// the publisher (``revocationAdded()``); a poll every `pollInterval` picks up the CLI's.
public final class AuthEventPublisher: Service, Sendable {
    private let store: AuthStore
    private let keys: SigningKeyRing
    private let redis: RedisClient
    private let policy: TokenPolicy
    private let revocationsChannel: String
    private let keysChannel: String
    private let pollInterval: Duration
    private let logger: Logger
    private let wakeUp = WakeUpSignal()

    private static let published = Counter(label: "gatehouse_auth_events_published_total")
    private static let failures = Counter(label: "gatehouse_auth_event_publish_failures_total")
    private static let pending = Gauge(label: "gatehouse_auth_revocations_unpublished")
    private static let rotations = Counter(label: "gatehouse_auth_key_rotations_total")

    /// Creates a publisher.
    /// - Parameters:
    ///   - store: The database.
    ///   - keys: The ring to reload.
    ///   - redis: The client to publish with; its `run()` must be going.
    ///   - policy: Rotation interval and lifetimes.
    ///   - revocationsChannel: Where revocation events go.
    ///   - keysChannel: Where key events go.
    ///   - pollInterval: How often the database is checked without a signal.
    ///   - logger: Receives rotations and publishing trouble.
    public init(
        store: AuthStore, keys: SigningKeyRing, redis: RedisClient, policy: TokenPolicy, revocationsChannel: String, keysChannel: String,
        pollInterval: Duration, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.redis = redis
        self.policy = policy
        self.revocationsChannel = revocationsChannel
        self.keysChannel = keysChannel
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Tells the publisher a revocation committed; cheap, never waits.
    public func revocationAdded() {
        self.wakeUp.signal()
    }

    /// Makes sure a database has an active and a next key (a new database gets its first two).
    /// - Parameters:
    ///   - store: The database.
    ///   - policy: The algorithm and grace period.
    public static func ensureKeys(store: AuthStore, policy: TokenPolicy) async throws {
        let (_, records) = try await store.signingKeys()
        guard !records.contains(where: { $0.state == .active }) else { return }
        _ = try await store.rotateSigningKeys(candidates: try Self.candidates(policy), grace: policy.retiredKeyGrace)
    }

    /// Rotates now: the next key signs, the active one retires, a new next key is generated.
    /// - Returns: The new key generation.
    public static func rotate(store: AuthStore, policy: TokenPolicy) async throws -> Int64 {
        try await store.rotateSigningKeys(candidates: try Self.candidates(policy), grace: policy.retiredKeyGrace)
    }

    private static func candidates(_ policy: TokenPolicy) throws -> [SigningKeyRecord] {
        [try SigningKeyMaterial.generate(policy.algorithm), try SigningKeyMaterial.generate(policy.algorithm)]
    }

    /// Works until graceful shutdown; what committed by then is published before it returns, if Redis answers.
    public func run() async {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        await withDiscardingTaskGroup { group in
            group.addTask { await self.wakeUp.poll(every: self.pollInterval) }
            await cancelWhenGracefulShutdown {
                var announced: Int64?
                var failures = 0
                var lastPrune = ContinuousClock.now - .seconds(3600)
                self.wakeUp.signal()
                for await _ in self.wakeUp.wakeUps {
                    do {
                        announced = try await self.maintainKeys(announced: announced)
                        try await self.publishRevocations()
                        if ContinuousClock.now - lastPrune > .seconds(60) {
                            try await self.store.prune(refreshAbsoluteLifetime: self.policy.refreshAbsoluteLifetime)
                            lastPrune = .now
                        }
                        if failures > 0 { self.logger.notice("publishing auth events again") }
                        failures = 0
                    } catch {
                        failures += 1
                        Self.failures.increment()
                        if failures == 1 {
                            self.logger.warning("cannot publish auth events; revocations wait in the database", metadata: ["error": "\(error)"])
                        }
                        guard (try? await Task.sleep(for: backoff.delay(afterFailures: failures))) != nil else { break }
                        self.wakeUp.signal()
                    }
                }
            }
            group.cancelAll()
        }
        try? await self.publishRevocations()
    }

    /// Rotates when due, retires expired keys, reloads the ring, and announces a new generation.
    /// - Returns: The generation announced.
    private func maintainKeys(announced: Int64?) async throws -> Int64? {
        let (_, records) = try await self.store.signingKeys()
        if let active = records.first(where: { $0.state == .active }), let activated = active.activatedAtMs,
            epochMilliseconds(Date()) - activated >= milliseconds(self.policy.rotationInterval)
        {
            let generation = try await Self.rotate(store: self.store, policy: self.policy)
            Self.rotations.increment()
            self.logger.notice("signing key rotated on schedule", metadata: ["keys.generation": "\(generation)"])
        }
        _ = try await self.store.unpublishExpiredKeys()
        if let reloaded = try await self.keys.reload(from: self.store) {
            self.logger.info(
                "signing keys loaded",
                metadata: ["keys.generation": "\(reloaded.generation)", "keys.signing_kid": "\(reloaded.signingKID)", "keys.published": "\(reloaded.publishedKIDs.count)"]
            )
        }
        guard let snapshot = self.keys.current, snapshot.generation != announced else { return announced }
        _ = try await self.redis.publish(channel: self.keysChannel, message: SigningKeyRing.event(snapshot).jsonText())
        Self.published.increment()
        return snapshot.generation
    }

    /// Publishes pending revocations in version order, one message each, marking them after Redis took them.
    private func publishRevocations() async throws {
        do {
            while true {
                let events = try await self.store.unpublishedRevocations(limit: 256)
                for event in events {
                    _ = try await self.redis.publish(channel: self.revocationsChannel, message: event.jsonText())
                    try await self.store.markRevocationsPublished(through: event.version)
                    Self.published.increment()
                }
                if events.count < 256 { break }
            }
            Self.pending.record(0)
        } catch {
            // The backlog is what an operator watches while Redis is away.
            if let count = try? await self.store.unpublishedRevocationCount() { Self.pending.record(count) }
            throw error
        }
    }
}
