/// A JSON document stored under a collection and an id.
package struct Document: Sendable, Equatable {
    /// The collection the document belongs to (see ``DocumentName``).
    package let collection: String
    /// The document's id, unique within its collection (see ``DocumentName``).
    package let id: String
    /// The document's body: the text of a JSON object.
    package let body: String
    /// The global data version of the document's last change.
    package let version: Int64
    /// When the document was created, in milliseconds since 1970-01-01 UTC.
    package let createdAt: Int64
    /// When the document was last changed, in milliseconds since 1970-01-01 UTC.
    package let updatedAt: Int64
    /// The subject that created the document, if known; replacing a document keeps it.
    package let owner: String?
}
