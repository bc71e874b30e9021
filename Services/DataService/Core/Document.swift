/// A JSON document stored under a collection and an id.
public struct Document: Sendable, Equatable {
    /// The collection the document belongs to (see ``DocumentName``).
    public let collection: String
    /// The document's id, unique within its collection (see ``DocumentName``).
    public let id: String
    /// The document's body: the text of a JSON object.
    public let body: String
    /// The global data version of the document's last change.
    public let version: Int64
    /// When the document was created, in milliseconds since 1970-01-01 UTC.
    public let createdAt: Int64
    /// When the document was last changed, in milliseconds since 1970-01-01 UTC.
    public let updatedAt: Int64
    /// The subject that created the document, if known; replacing a document keeps it.
    public let owner: String?
}
