import Foundation
import GatehouseAuthAPI
import GatehouseEvents
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
/// answers; rows are marked published only after `PUBLISH` succeeded (an ``OutboxDrainer`` over the
/// ``RevocationOutbox``). The issuer's own revocations signal the publisher (``revocationAdded()``); a poll
/// every `pollInterval` picks up the CLI's, and checks the keys.
package final class AuthEventPublisher: Service, Sendable {
    private let store: AuthStore
    private let keys: SigningKeyRing
    private let redis: RedisClient
    private let policy: TokenPolicy
    private let keysChannel: String
    private let pollInterval: Duration
    private let logger: Logger
    private let revocations: OutboxDrainer<RevocationOutbox>

    /// The counter of revocation and key events Redis accepted.
    static let publishedLabel = "gatehouse_auth_events_published_total"
    /// The counter of failed rounds, publishing revocations or maintaining keys.
    static let failuresLabel = "gatehouse_auth_event_publish_failures_total"
    private static let published = Counter(label: publishedLabel)
    private static let failures = Counter(label: failuresLabel)
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
    package init(
        store: AuthStore, keys: SigningKeyRing, redis: RedisClient, policy: TokenPolicy, revocationsChannel: String, keysChannel: String,
        pollInterval: Duration, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.redis = redis
        self.policy = policy
        self.keysChannel = keysChannel
        self.pollInterval = pollInterval
        self.logger = logger
        self.revocations = OutboxDrainer(
            source: RevocationOutbox(store: store), redis: redis, channel: revocationsChannel, batchSize: 256, pollInterval: pollInterval, logger: logger
        )
    }

    /// Tells the publisher a revocation committed; cheap, never waits.
    package func revocationAdded() {
        self.revocations.eventsCommitted()
    }

    /// Makes sure a database has an active and a next key (a new database gets its first two).
    /// - Parameters:
    ///   - store: The database.
    ///   - policy: The algorithm and grace period.
    package static func ensureKeys(store: AuthStore, policy: TokenPolicy) async throws {
        let (_, records) = try await store.signingKeys()
        guard !records.contains(where: { $0.state == .active }) else { return }
        _ = try await store.rotateSigningKeys(candidates: try Self.candidates(policy), grace: policy.retiredKeyGrace)
    }

    /// Rotates now: the next key signs, the active one retires, a new next key is generated.
    /// - Returns: The new key generation.
    package static func rotate(store: AuthStore, policy: TokenPolicy) async throws -> Int64 {
        try await store.rotateSigningKeys(candidates: try Self.candidates(policy), grace: policy.retiredKeyGrace)
    }

    private static func candidates(_ policy: TokenPolicy) throws -> [SigningKeyRecord] {
        [try SigningKeyMaterial.generate(policy.algorithm), try SigningKeyMaterial.generate(policy.algorithm)]
    }

    /// Works until graceful shutdown; what committed by then is published before it returns, if Redis answers.
    package func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.revocations.run() }
            await cancelWhenGracefulShutdown { await self.maintainKeysEveryPoll() }
        }
    }

    /// Maintains and announces the keys at once and then every poll interval, and prunes the database once a
    /// minute; after a failure, retries with backoff.
    private func maintainKeysEveryPoll() async {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        var announced: Int64?
        var failures = 0
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            let pause: Duration
            do {
                announced = try await self.maintainKeys(announced: announced)
                if ContinuousClock.now - lastPrune > .seconds(60) {
                    try await self.store.prune(refreshAbsoluteLifetime: self.policy.refreshAbsoluteLifetime)
                    lastPrune = .now
                }
                if failures > 0 { self.logger.notice("signing keys maintained and announced again") }
                failures = 0
                pause = self.pollInterval
            } catch {
                failures += 1
                Self.failures.increment()
                if failures == 1 {
                    self.logger.warning("cannot maintain or announce the signing keys; retrying", metadata: ["error": "\(error)"])
                }
                pause = backoff.delay(afterFailures: failures)
            }
            guard (try? await Task.sleep(for: pause)) != nil else { return }
        }
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
}
