/// One page of a collection listing.
package struct DocumentPage: Sendable, Equatable {
    /// The documents, ordered by id.
    package let documents: [Document]
    /// The cursor for the next page, or nil when this is the last page; treat it as opaque.
    package let nextCursor: String?
}
