/// One change to submit to a ``DocumentStore``.
///
/// `ifVersion` makes a write conditional (optimistic concurrency):
/// - `nil`: no condition.
/// - `0`: the document must not exist (create-only; a put on an existing document conflicts).
/// - `n > 0`: the document must exist with version `n`; otherwise the write conflicts.
///
/// A delete of a missing document fails with ``DocumentError/notFound(collection:id:)``
/// whatever `ifVersion` says.
package enum DocumentWrite: Sendable, Equatable {
    /// Creates or replaces the document `collection/id` with `body`; `owner` is recorded on creation.
    case put(collection: String, id: String, body: String, ifVersion: Int64? = nil, owner: String? = nil)
    /// Creates a document with a new random id (a lowercase UUID) chosen by the store.
    case create(collection: String, body: String, owner: String? = nil)
    /// Deletes the document `collection/id`.
    case delete(collection: String, id: String, ifVersion: Int64? = nil)
}
