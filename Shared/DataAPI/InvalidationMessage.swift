import GatehouseEvents

/// What the data service publishes on the invalidation channel after commits: one message per batch of
/// committed changes, in data-version order (docs/protocol.md, "Invalidation events").
///
/// ```json
/// {"events":[{"version":41,"collection":"posts","id":"p1","kind":"put","committed_at_ms":1764064800123}]}
/// ```
/// Versions increase by exactly one per change across all collections, so a subscriber that sees a version
/// jump (or receives `.resubscribed` from its Redis subscriber) knows it missed events and must drop
/// everything it cached (``EventVersionTracker``). Text to and from JSON: ``EventMessage``.
public struct InvalidationMessage: EventMessage, Equatable {
    /// One committed change.
    public struct Event: Codable, VersionedEvent, Equatable {
        /// What the change did.
        public enum Kind: String, Codable, Sendable {
            /// The document was created or replaced.
            case put
            /// The document was deleted.
            case delete
        }

        /// The data version of the change.
        public let version: Int64
        /// The document's collection.
        public let collection: String
        /// The document's id.
        public let id: String
        /// What the change did.
        public let kind: Kind
        /// When it was committed, in milliseconds since the Unix epoch.
        public let committedAtMs: Int64

        /// Creates an event.
        public init(version: Int64, collection: String, id: String, kind: Kind, committedAtMs: Int64) {
            self.version = version
            self.collection = collection
            self.id = id
            self.kind = kind
            self.committedAtMs = committedAtMs
        }

        enum CodingKeys: String, CodingKey {
            case version, collection, id, kind
            case committedAtMs = "committed_at_ms"
        }
    }

    /// The events, in increasing version order without gaps.
    public let events: [Event]

    /// Creates a message.
    public init(events: [Event]) {
        self.events = events
    }

    /// The default Redis channel.
    public static let defaultChannel = "gatehouse:invalidations"
}
