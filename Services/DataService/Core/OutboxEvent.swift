/// A committed change waiting to be published, one per data version.
public struct OutboxEvent: Sendable, Equatable {
    /// What happened to the document.
    public enum Kind: String, Sendable {
        /// The document was created or replaced.
        case put
        /// The document was deleted.
        case delete
    }

    /// The global data version of the change; events are numbered 1, 2, 3, … without gaps.
    public let version: Int64
    /// The collection of the changed document.
    public let collection: String
    /// The id of the changed document.
    public let id: String
    /// What happened to the document.
    public let kind: Kind
    /// When the change was committed, in milliseconds since 1970-01-01 UTC.
    public let committedAt: Int64
}
