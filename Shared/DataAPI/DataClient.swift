import GatehouseRPC

/// The data service as its callers speak to it: documents as ``DataDocument``s, failures as
/// ``DataClientError``s; the wire messages (``DataMethods``) stay inside. Every call goes over one
/// ``RPCClient``, whose `run()` its owner keeps going. Every method takes the originating HTTP request's id
/// (`traceID`) for the data service's logs, and throws ``DataClientError`` or `CancellationError`.
public struct DataClient: Sendable {
    private let rpc: RPCClient

    /// Creates a client over a connection pool to the data service.
    public init(rpc: RPCClient) {
        self.rpc = rpc
    }

    /// One document (`data.Get`); ``DataClientError/Reason/notFound`` when there is none.
    public func get(collection: String, id: String, traceID: String? = nil) async throws -> DataDocument {
        var request = Gatehouse_Data_GetRequest()
        (request.collection, request.id) = (collection, id)
        return DataDocument(try await self.rpc.call(DataMethods.get, request, traceID: traceID, failingWith: DataFailure.self).document)
    }

    /// One page of a collection (`data.List`).
    public func list(_ query: DataListQuery, traceID: String? = nil) async throws -> DataPage {
        let page = try await self.rpc.call(DataMethods.list, Gatehouse_Data_ListRequest(query), traceID: traceID, failingWith: DataFailure.self)
        return DataPage(documents: page.documents.map(DataDocument.init), nextCursor: page.nextCursor.isEmpty ? nil : page.nextCursor)
    }

    /// Creates or replaces a document (`data.Put`).
    /// - Parameters:
    ///   - owner: Recorded as the owner when the put creates the document (`nil`: none); a replacement keeps the owner it had.
    ///   - ifVersion: Write only if the current version is this (0: only if it does not exist); `nil`: whatever it is.
    public func put(
        collection: String, id: String, body: String, owner: String? = nil, ifVersion: Int64? = nil, traceID: String? = nil
    ) async throws -> DataWriteResult {
        var request = Gatehouse_Data_PutRequest()
        (request.collection, request.id, request.body, request.owner) = (collection, id, body, owner ?? "")
        if let ifVersion { request.ifVersion = ifVersion }
        return DataWriteResult(try await self.rpc.call(DataMethods.put, request, traceID: traceID, failingWith: DataFailure.self))
    }

    /// Creates a document with an id the data service chooses (`data.Create`).
    public func create(collection: String, body: String, owner: String? = nil, traceID: String? = nil) async throws -> DataWriteResult {
        var request = Gatehouse_Data_CreateRequest()
        (request.collection, request.body, request.owner) = (collection, body, owner ?? "")
        return DataWriteResult(try await self.rpc.call(DataMethods.create, request, traceID: traceID, failingWith: DataFailure.self))
    }

    /// Deletes a document (`data.Delete`), only if its current version is `ifVersion` when given.
    public func delete(collection: String, id: String, ifVersion: Int64? = nil, traceID: String? = nil) async throws -> DataWriteResult {
        var request = Gatehouse_Data_DeleteRequest()
        (request.collection, request.id) = (collection, id)
        if let ifVersion { request.ifVersion = ifVersion }
        return DataWriteResult(try await self.rpc.call(DataMethods.delete, request, traceID: traceID, failingWith: DataFailure.self))
    }
}
