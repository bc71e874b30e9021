/// The envelope every Gatehouse event shares: a version from its publisher that increases by exactly one
/// per event, so a subscriber tells the next event from a repeat and from a jump over missed ones
/// (``EventVersionTracker``), and a publisher drains its outbox in that order (``OutboxDrainer``).
///
/// The version is a field of each event's own JSON form (docs/protocol.md): the envelope is a shape the
/// code relies on, not an extra layer on the wire, so publishers and subscribers of different releases
/// read each other's messages.
public protocol VersionedEvent: Sendable {
    /// The publisher's version of this event: 1 for its first, then one more for each.
    var version: Int64 { get }
}
