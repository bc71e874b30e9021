import Foundation
import GatehouseRedis
import Logging
import NIOCore
import ServiceLifecycle

/// The edge's subscription to every event it reacts to, on one Redis connection: the data service's
/// invalidations (to the cache), the issuer's revocations and key rotations (to authentication). Every
/// time the subscription is established, the first time included, keys and the whole revocation state are
/// fetched (events published before it never arrived); a lost subscription also drops the cache once it
/// is back.
public final class EdgeEventSubscriber: Service, Sendable {
    private let subscriber: RedisSubscriber
    private let invalidations: InvalidationApplier
    private let authEvents: AuthEventApplier
    private let invalidationsChannel: String
    private let revocationsChannel: String
    private let keysChannel: String
    private let logger: Logger

    /// Creates the subscriber; nothing connects until ``run()``.
    public init(
        redis: RedisConfiguration, invalidations: InvalidationApplier, authEvents: AuthEventApplier, invalidationsChannel: String,
        revocationsChannel: String, keysChannel: String, logger: Logger
    ) {
        self.subscriber = RedisSubscriber(configuration: redis, channels: [invalidationsChannel, revocationsChannel, keysChannel], logger: logger)
        self.invalidations = invalidations
        self.authEvents = authEvents
        self.invalidationsChannel = invalidationsChannel
        self.revocationsChannel = revocationsChannel
        self.keysChannel = keysChannel
        self.logger = logger
    }

    /// Subscribes and applies events until graceful shutdown; once a minute, forgets revocations and
    /// verified tokens past their expiry; every 2 s, fetches keys or revocations again if that failed.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.subscriber.run() }
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
            for await event in self.subscriber.events {
                switch event {
                case .subscribed:
                    // Revocations made before this moment (while Redis was down, say) came as no event.
                    self.logger.info("subscribed to invalidation, revocation and key events; fetching keys and revocations")
                    await self.authEvents.subscriptionEstablished()
                case .resubscribed:
                    self.logger.notice("event subscription re-established; dropping the cache and fetching keys and revocations")
                    self.invalidations.subscriptionRestarted()
                    await self.authEvents.subscriptionEstablished()
                case .message(let channel, let payload):
                    let text = String(buffer: payload)
                    if channel == self.invalidationsChannel {
                        if self.invalidations.apply(message: text) == .droppedEverything {
                            self.logger.notice("invalidation events were missed; the cache was dropped")
                        }
                    } else if channel == self.revocationsChannel {
                        await self.authEvents.revocationMessage(text)
                    } else if channel == self.keysChannel {
                        await self.authEvents.keyMessage(text)
                    }
                }
            }
            // The subscription ended (shutdown): stop the pruning too.
            group.cancelAll()
        }
    }
}
