/// What a write left: the document as stored (for a delete, as it was).
public struct DataWriteResult: Sendable, Equatable {
    /// The document's version after the write.
    public var version: Int64
    /// Whether the write created the document.
    public var created: Bool
    /// The document.
    public var document: DataDocument

    /// Creates a result.
    public init(version: Int64, created: Bool, document: DataDocument) {
        (self.version, self.created, self.document) = (version, created, document)
    }
}
