/// Where an ``OutboxDrainer`` takes the events it publishes: a table of committed events that are not
/// published yet (the data service's outbox, the issuer's revocations), read in version order.
///
/// Events are committed to the source before they are published, so none is lost to a Redis outage or a
/// crash; the drainer marks them published only after Redis accepted the message that carries them.
public protocol OutboxSource: Sendable {
    /// The events the source holds.
    associatedtype Event: VersionedEvent

    /// The names of the drainer's metrics and its log lines for this source's events.
    static var reporting: OutboxReporting { get }

    /// The most events one message carries.
    var eventsPerMessage: Int { get }

    /// Events not marked published whose version is above `version`, in version order.
    /// - Parameters:
    ///   - version: The newest version the drainer has published (0 before its first).
    ///   - limit: The most events to return.
    /// - Returns: Up to `limit` events, oldest first.
    /// - Throws: When the source cannot be read; the drainer retries with backoff.
    func unpublished(after version: Int64, limit: Int) async throws -> [Event]

    /// The text of the message that carries these events.
    /// - Parameter events: Consecutive events, at least one and at most ``eventsPerMessage``.
    /// - Returns: The message's JSON text (docs/protocol.md).
    func message(for events: ArraySlice<Event>) -> String

    /// Marks every event up to and including `version` as published (deletes or flags them).
    /// - Parameter version: The newest version Redis accepted.
    /// - Throws: When the source cannot be written; the drainer tries again at its next wake-up.
    func markPublished(through version: Int64) async throws

    /// The events still waiting after `version`, for the metrics an operator watches during an outage.
    /// - Parameter version: The newest version the drainer has published.
    /// - Throws: When the source cannot be read.
    func backlog(after version: Int64) async throws -> OutboxBacklog
}
