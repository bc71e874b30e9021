import GatehouseConfig
import GatehouseDataAPI
import GatehouseRPC
import Metrics

/// Answers the data service's RPC methods (`data.Get`, `data.List`, `data.Put`, `data.Create`,
/// `data.Delete`; docs/protocol.md) from a ``DocumentStore``, and signals the ``OutboxDrainer`` after
/// every committed write.
///
/// Errors are typed and name the field: `INVALID_ARGUMENT` (names, body, owner, limit, cursor, query),
/// `NOT_FOUND` (a missing document or an unknown collection), `CONFLICT` (a stale `if_version`),
/// `RESOURCE_EXHAUSTED` (the write queue is full), `UNAVAILABLE` (the database failed), `FRAME_TOO_LARGE`
/// (a document the caller could not receive: its answer would exceed the caller's frame maximum).
///
/// Every answer fits the caller's frame maximum (``RPCCallContext/maximumAnswerBytes``): a `data.List` page
/// ends early, with a cursor, before the document that would not fit, and a write whose answer could not
/// reach the caller is refused before it is made.
/// Exported metrics: `gatehouse_data_reads_total{method}`, `gatehouse_data_writes_total{method, result}`,
/// `gatehouse_data_read_duration_seconds{method}`.
package struct DocumentRPCService: Sendable {
    private let store: DocumentStore
    private let collections: Set<String>

    private static let reads = ["data.Get", "data.List"].reduce(into: [String: Counter]()) {
        $0[$1] = Counter(label: "gatehouse_data_reads_total", dimensions: [("method", $1)])
    }
    private static let writes = ["data.Put", "data.Create", "data.Delete"].reduce(into: [String: Counter]()) { counters, method in
        for result in ["ok", "conflict", "not_found", "invalid", "overloaded", "failed"] {
            counters["\(method)|\(result)"] = Counter(label: "gatehouse_data_writes_total", dimensions: [("method", method), ("result", result)])
        }
    }
    private static let readDurations = ["data.Get", "data.List"].reduce(into: [String: Metrics.Timer]()) {
        $0[$1] = Metrics.Timer(label: "gatehouse_data_read_duration_seconds", dimensions: [("method", $1)])
    }

    /// Creates the service.
    /// - Parameters:
    ///   - store: The documents.
    ///   - collections: The collections clients may use; empty: any valid name.
    package init(store: DocumentStore, collections: Set<String>) {
        self.store = store
        self.collections = collections
    }

    /// The handlers of the five methods.
    package var rpcHandlers: RPCHandlerRegistry {
        var handlers = RPCHandlerRegistry()
        handlers.register(DataMethods.get) { request, _ in try await self.get(request) }
        handlers.register(DataMethods.list) { request, context in try await self.list(request, context: context) }
        handlers.register(DataMethods.put) { request, context in
            try await self.write(
                .put(
                    collection: request.collection,
                    id: request.id,
                    body: request.body,
                    ifVersion: request.hasIfVersion ? request.ifVersion : nil,
                    owner: request.owner.isEmpty ? nil : request.owner
                ),
                collection: request.collection,
                method: "data.Put",
                context: context
            )
        }
        handlers.register(DataMethods.create) { request, context in
            try await self.write(
                .create(collection: request.collection, body: request.body, owner: request.owner.isEmpty ? nil : request.owner),
                collection: request.collection,
                method: "data.Create",
                context: context
            )
        }
        handlers.register(DataMethods.delete) { request, context in
            try await self.write(
                .delete(collection: request.collection, id: request.id, ifVersion: request.hasIfVersion ? request.ifVersion : nil),
                collection: request.collection,
                method: "data.Delete",
                context: context
            )
        }
        return handlers
    }

    private func get(_ request: Gatehouse_Data_GetRequest) async throws(RPCError) -> Gatehouse_Data_GetResponse {
        try self.checkCollection(request.collection)
        let start = ContinuousClock.now
        defer { Self.record("data.Get", since: start) }
        let document: Document?
        do {
            document = try await self.store.get(collection: request.collection, id: request.id)
        } catch {
            throw Self.rpcError(error)
        }
        guard let document else {
            throw RPCError(.notFound, "document \(request.collection)/\(request.id) not found")
        }
        var response = Gatehouse_Data_GetResponse()
        response.document = Self.message(document)
        return response
    }

    private func list(_ request: Gatehouse_Data_ListRequest, context: RPCCallContext) async throws(RPCError) -> Gatehouse_Data_ListResponse {
        try self.checkCollection(request.collection)
        let start = ContinuousClock.now
        defer { Self.record("data.List", since: start) }
        let maxBytes = context.maximumAnswerBytes - DocumentWireSize.listResponseOverhead
        let page: DocumentPage
        do {
            page = try await self.store.list(
                collection: request.collection,
                limit: request.limit == 0 ? 100 : Int(request.limit),
                maxBytes: maxBytes,
                cursor: request.cursor.isEmpty ? nil : request.cursor,
                query: request.hasQ ? request.q : nil,
                owner: request.hasOwner ? request.owner : nil
            )
        } catch {
            throw Self.rpcError(error)
        }
        if let first = page.documents.first, page.documents.count == 1, case let bytes = DocumentWireSize.listEntry(first), bytes > maxBytes {
            throw RPCError(
                .frameTooLarge,
                "document \(first.collection)/\(first.id) takes \(bytes) bytes in a page; this caller accepts \(maxBytes)"
                    + " (its frame maximum less the answer's own bytes)"
            )
        }
        var response = Gatehouse_Data_ListResponse()
        response.documents = page.documents.map(Self.message)
        response.nextCursor = page.nextCursor ?? ""
        return response
    }

    /// The length of the ids `data.Create` makes (a lowercase UUID).
    private static let createdIDBytes = 36

    /// Refuses a put or create whose answer, which carries the stored document, would be larger than the
    /// caller accepts: better not written than written and unacknowledged. (A body over the store's limit is
    /// left to the store, whose error says so.)
    private func checkAnswerFits(_ write: DocumentWrite, context: RPCCallContext) throws(RPCError) {
        let (collection, idBytes, body): (String, Int, String)
        switch write {
        case .put(let name, let id, let text, _, _): (collection, idBytes, body) = (name, id.utf8.count, text)
        case .create(let name, let text, _): (collection, idBytes, body) = (name, Self.createdIDBytes, text)
        case .delete: return
        }
        guard body.utf8.count <= self.store.maxBodyBytes else { return }
        let answerBytes = DocumentWireSize.writeResponse(collectionBytes: collection.utf8.count, idBytes: idBytes, bodyBytes: body.utf8.count)
        guard answerBytes <= context.maximumAnswerBytes else {
            throw RPCError(
                .frameTooLarge,
                "the answer to this write would take up to \(answerBytes) bytes (a body of \(body.utf8.count) bytes); this caller accepts \(context.maximumAnswerBytes)"
                    + " (its frame maximum less the answer's own bytes); nothing was written"
            )
        }
    }

    private func write(
        _ write: DocumentWrite, collection: String, method: String, context: RPCCallContext
    ) async throws(RPCError) -> Gatehouse_Data_WriteResponse {
        try self.checkCollection(collection)
        do {
            try self.checkAnswerFits(write, context: context)
        } catch {
            Self.writes["\(method)|invalid"]?.increment()
            throw error
        }
        let outcome: WriteOutcome
        do {
            outcome = try await self.store.write(write)
        } catch {
            Self.writes["\(method)|\(Self.resultName(error))"]?.increment()
            throw Self.rpcError(error)
        }
        Self.writes["\(method)|ok"]?.increment()
        var response = Gatehouse_Data_WriteResponse()
        response.version = outcome.version
        switch outcome {
        case .created(let document):
            response.created = true
            response.document = Self.message(document)
        case .replaced(let document):
            response.document = Self.message(document)
        case .deleted:
            break
        }
        return response
    }

    private func checkCollection(_ name: String) throws(RPCError) {
        guard !self.collections.isEmpty, !self.collections.contains(name) else { return }
        let suggestion = EditDistance.closest(to: name, among: self.collections.sorted()).map { "; did you mean '\($0)'?" } ?? ""
        throw RPCError(
            .notFound,
            "unknown collection '\(name)'\(suggestion) The data service has \(self.collections.sorted().joined(separator: ", "))"
        )
    }

    private static func record(_ method: String, since start: ContinuousClock.Instant) {
        Self.reads[method]?.increment()
        let elapsed = (ContinuousClock.now - start).components
        Self.readDurations[method]?.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    private static func resultName(_ error: DocumentError) -> String {
        switch error {
        case .conflict: "conflict"
        case .notFound: "not_found"
        case .invalidName, .invalidArgument, .bodyNotObject, .bodyTooLarge: "invalid"
        case .overloaded: "overloaded"
        case .storage, .schemaTooNew, .closed: "failed"
        }
    }

    static func rpcError(_ error: DocumentError) -> RPCError {
        switch error {
        case .invalidName, .invalidArgument, .bodyNotObject, .bodyTooLarge:
            RPCError(.invalidArgument, error.description)
        case .notFound:
            RPCError(.notFound, error.description)
        case .conflict:
            RPCError(.conflict, error.description)
        case .overloaded:
            RPCError(.resourceExhausted, error.description)
        case .storage, .schemaTooNew, .closed:
            RPCError(.unavailable, error.description)
        }
    }

    private static func message(_ document: Document) -> Gatehouse_Data_Document {
        var message = Gatehouse_Data_Document()
        message.collection = document.collection
        message.id = document.id
        message.body = document.body
        message.version = document.version
        message.createdAtMs = document.createdAt
        message.updatedAtMs = document.updatedAt
        message.owner = document.owner ?? ""
        return message
    }
}
