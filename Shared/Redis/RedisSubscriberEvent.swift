import NIOCore

/// What a ``RedisSubscriber`` reports.
public enum RedisSubscriberEvent: Sendable, Hashable {
    /// The subscription is in place for the first time; messages published from now on are delivered.
    case subscribed
    /// A message published on one of the subscribed channels; the payload is byte for byte what was published.
    case message(channel: String, payload: ByteBuffer)
    /// The connection was lost and the subscriber has reconnected and subscribed again by itself.
    ///
    /// Messages published while it was away are lost: treat state derived from earlier messages (caches,
    /// invalidation marks) as suspect and refresh it.
    case resubscribed
}
