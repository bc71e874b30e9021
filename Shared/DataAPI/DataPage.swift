/// One page of a listing.
public struct DataPage: Sendable, Equatable {
    /// The documents, in the listing's order.
    public var documents: [DataDocument]
    /// Where the next page starts; `nil` on the last page.
    public var nextCursor: String?

    /// Creates a page.
    public init(documents: [DataDocument], nextCursor: String?) {
        self.documents = documents
        self.nextCursor = nextCursor
    }
}
