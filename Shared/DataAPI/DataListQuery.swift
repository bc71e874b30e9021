/// Which page of a collection to list (`data.List`).
public struct DataListQuery: Sendable, Equatable {
    /// The collection.
    public var collection: String
    /// The most documents on the page; `nil`: the data service's default.
    public var limit: Int?
    /// Where the page starts: the previous page's ``DataPage/nextCursor``; `nil`: the first page.
    public var cursor: String?
    /// A full-text query the documents must match; `nil`: all.
    public var text: String?
    /// Only the documents of this owner; `nil`: everyone's.
    public var owner: String?

    /// Creates a query.
    public init(collection: String, limit: Int? = nil, cursor: String? = nil, text: String? = nil, owner: String? = nil) {
        (self.collection, self.limit, self.cursor, self.text, self.owner) = (collection, limit, cursor, text, owner)
    }
}
