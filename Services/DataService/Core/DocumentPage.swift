/// One page of a collection listing.
public struct DocumentPage: Sendable, Equatable {
    /// The documents, ordered by id.
    public let documents: [Document]
    /// The cursor for the next page, or nil when this is the last page; treat it as opaque.
    public let nextCursor: String?
}
