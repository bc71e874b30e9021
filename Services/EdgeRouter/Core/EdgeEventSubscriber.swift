import Foundation
import GatehouseEvents
import GatehouseRedis
import Logging
import ServiceLifecycle

/// The edge's subscription to every event it reacts to, on one Redis connection: the data service's
/// invalidations and the path invalidations of HTTP upstream routes (to the cache), the issuer's revocations and key rotations (to authentication). Every
/// time the subscription is established, the first time included, keys and the whole revocation state are
/// fetched (events published before it never arrived); a lost subscription also drops the cache once it
/// is back (an ``EventSubscription``).
package final class EdgeEventSubscriber: Service, Sendable {
    private let subscription: EventSubscription
    private let authEvents: AuthEventApplier

    /// Creates the subscriber; nothing connects until ``run()``.
    package init(
        redis: RedisConfiguration, invalidations: InvalidationApplier, pathInvalidations: PathInvalidationApplier, authEvents: AuthEventApplier,
        invalidationsChannel: String, pathInvalidationsChannel: String, revocationsChannel: String, keysChannel: String, logger: Logger
    ) {
        let channels = [
            EventSubscription.Channel(invalidationsChannel) { text in
                if invalidations.apply(message: text) == .droppedEverything {
                    logger.notice("invalidation events were missed; the cache was dropped")
                }
            },
            EventSubscription.Channel(pathInvalidationsChannel) { text in
                if case .unreadable(let error) = pathInvalidations.apply(message: text) {
                    logger.warning("unreadable path invalidation message ignored", metadata: ["reason": "\(error.reason)", "message": "\(text.prefix(200))"])
                }
            },
            EventSubscription.Channel(revocationsChannel) { await authEvents.revocationMessage($0) },
            EventSubscription.Channel(keysChannel) { await authEvents.keyMessage($0) },
        ]
        self.subscription = EventSubscription(redis: redis, channels: channels, logger: logger) { afterLoss in
            if afterLoss {
                logger.notice("event subscription re-established; dropping the cache and fetching keys and revocations")
                invalidations.subscriptionRestarted()
            } else {
                // Revocations made before this moment (while Redis was down, say) came as no event.
                logger.info("subscribed to invalidation, revocation and key events; fetching keys and revocations")
            }
            await authEvents.subscriptionEstablished()
        }
        self.authEvents = authEvents
    }

    /// Subscribes and applies events until graceful shutdown; once a minute, forgets revocations and
    /// verified tokens past their expiry; every 2 s, fetches keys or revocations again if that failed.
    package func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                while (try? await Task.sleep(for: .seconds(2))) != nil {
                    await self.authEvents.resynchronizeIfNeeded()
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(60))) != nil {
                    self.authEvents.prune(now: Int64(Date().timeIntervalSince1970))
                }
            }
            try await self.subscription.run()
            // The subscription ended (shutdown): stop the pruning too.
            group.cancelAll()
        }
    }
}
