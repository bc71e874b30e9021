// The mapping between the data service's domain types and its wire messages, in one place.

extension DataDocument {
    /// The document a wire document carries.
    init(_ document: Gatehouse_Data_Document) {
        self.init(
            collection: document.collection, id: document.id, body: document.body, version: document.version,
            createdAtMilliseconds: document.createdAtMs, updatedAtMilliseconds: document.updatedAtMs,
            owner: document.owner.isEmpty ? nil : document.owner
        )
    }
}

extension DataWriteResult {
    /// The result a wire answer carries.
    init(_ response: Gatehouse_Data_WriteResponse) {
        self.init(version: response.version, created: response.created, document: DataDocument(response.document))
    }
}

extension Gatehouse_Data_ListRequest {
    /// The wire form of a query.
    init(_ query: DataListQuery) {
        self.init()
        self.collection = query.collection
        if let limit = query.limit { self.limit = UInt32(clamping: limit) }
        if let cursor = query.cursor { self.cursor = cursor }
        if let text = query.text { self.q = text }
        if let owner = query.owner { self.owner = owner }
    }
}
