/// One JSON document as the data service stores it.
public struct DataDocument: Sendable, Equatable {
    /// The collection it belongs to.
    public var collection: String
    /// Its id within the collection.
    public var id: String
    /// The JSON object, as it was written.
    public var body: String
    /// Its version: 1 when created, one more with every write.
    public var version: Int64
    /// When it was created, in milliseconds since 1970.
    public var createdAtMilliseconds: Int64
    /// When it was last written, in milliseconds since 1970.
    public var updatedAtMilliseconds: Int64
    /// The subject that owns it; `nil` for none.
    public var owner: String?

    /// Creates a document.
    public init(
        collection: String, id: String, body: String, version: Int64, createdAtMilliseconds: Int64, updatedAtMilliseconds: Int64, owner: String?
    ) {
        (self.collection, self.id, self.body, self.version) = (collection, id, body, version)
        (self.createdAtMilliseconds, self.updatedAtMilliseconds, self.owner) = (createdAtMilliseconds, updatedAtMilliseconds, owner)
    }
}
