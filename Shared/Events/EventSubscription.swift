import GatehouseRedis
import Logging
import NIOCore
import ServiceLifecycle

/// A subscriber's Redis subscription to event channels: hands each message to its channel's receiver and,
/// each time the subscription is established (the first time included), has the subscriber recover
/// what no event will tell it, before any message of the new subscription.
///
/// Pub/sub delivers only to subscribers connected at the moment of `PUBLISH`, so events published before a
/// subscription, or while it was lost, never arrive: a subscriber fetches the publisher's whole state
/// then, or drops what it derived from earlier events (docs/protocol.md). Messages that arrive while
/// `resynchronize` runs wait and are delivered after it, in order.
public final class EventSubscription: Service, Sendable {
    /// One subscribed channel and what receives its messages.
    public struct Channel: Sendable {
        /// The channel's name.
        public let name: String
        /// Receives each message's text, in order.
        public let receive: @Sendable (String) async -> Void

        /// Creates a channel.
        /// - Parameters:
        ///   - name: The channel's name.
        ///   - receive: Receives each message's text, in order.
        public init(_ name: String, receive: @escaping @Sendable (String) async -> Void) {
            self.name = name
            self.receive = receive
        }
    }

    private let subscriber: RedisSubscriber
    private let receivers: [String: @Sendable (String) async -> Void]
    private let resynchronize: @Sendable (_ afterLoss: Bool) async -> Void

    /// Creates the subscription; nothing connects until ``run()``.
    /// - Parameters:
    ///   - redis: Where Redis is; the subscription takes a connection of its own.
    ///   - channels: The channels and their receivers (at least one).
    ///   - logger: Receives the connection's trouble.
    ///   - resynchronize: Called each time the subscription is established: with `false` the first time,
    ///     with `true` after a lost subscription came back.
    public init(
        redis: RedisConfiguration, channels: [Channel], logger: Logger, resynchronize: @escaping @Sendable (_ afterLoss: Bool) async -> Void
    ) {
        self.subscriber = RedisSubscriber(configuration: redis, channels: channels.map(\.name), logger: logger)
        self.receivers = Dictionary(channels.map { ($0.name, $0.receive) }, uniquingKeysWith: { first, _ in first })
        self.resynchronize = resynchronize
    }

    /// Subscribes, resynchronizes and delivers messages until graceful shutdown (or cancellation).
    /// - Throws: When no channel was given.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.subscriber.run() }
            for await event in self.subscriber.events {
                switch event {
                case .subscribed:
                    await self.resynchronize(false)
                case .resubscribed:
                    await self.resynchronize(true)
                case .message(let channel, let payload):
                    await self.receivers[channel]?(String(buffer: payload))
                }
            }
        }
    }
}
