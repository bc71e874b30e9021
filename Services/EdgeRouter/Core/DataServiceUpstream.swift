import Foundation
import GatehouseDataAPI
import GatehouseRPC
import Logging
import Metrics

/// The data service as an upstream: the edge's document API (`/v1/{collection}`, `/v1/{collection}/{id}`)
/// over the data RPC. A read of one document or of a listing is tagged with the document or the collection;
/// a write names both (the new document's id for a `POST`), which the gateway drops from its cache.
final class DataServiceUpstream: EdgeUpstream {
    private let data: DataClient
    private let logger: Logger

    /// Creates the upstream.
    /// - Parameters:
    ///   - data: The data service's client.
    ///   - logger: Receives the failures whose details do not go to the client.
    init(data: DataClient, logger: Logger) {
        self.data = data
        self.logger = logger
    }

    // MARK: Reads

    func read(_ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters) -> UpstreamRead {
        let collection = parameters["collection"] ?? ""
        guard let id = parameters["id"] else { return self.list(request, route: route, caller: caller, collection: collection) }
        let traceID = request.requestID
        return .fetch(tags: [.document(collection: collection, id: id)], personal: false) {
            await self.document(collection: collection, id: id, traceID: traceID)
        }
    }

    private func document(collection: String, id: String, traceID: String) async -> EdgeResponse {
        EdgeMetrics.dataCalls.increment()
        do {
            let document = try await self.data.get(collection: collection, id: id, traceID: traceID)
            return EdgeResponse(
                status: 200, headers: [("Content-Type", "application/json"), ("ETag", DocumentRendering.etag(version: document.version))],
                body: DocumentRendering.document(document)
            )
        } catch let error as DataClientError where error.reason == .notFound {
            return .problem(404, "Not Found", "document \(collection)/\(id) does not exist")
        } catch {
            return self.failure(error)
        }
    }

    private func list(_ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, collection: String) -> UpstreamRead {
        var list = DataListQuery(collection: collection)
        if route.ownerOnly, let subject = caller.subject { list.owner = subject }
        var seen: Set<String> = []
        for pair in (request.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            guard parts.count == 2 else { continue }
            // One value per name: the cache key sorts the pairs, so `?q=a&q=b` and `?q=b&q=a` must not differ.
            guard seen.insert(parts[0]).inserted else {
                return .answered(.problem(400, "Bad Request", "query parameter '\(parts[0])' is given twice; give it once"))
            }
            switch parts[0] {
            case "limit":
                guard let limit = Int(parts[1]), (1...1000).contains(limit) else {
                    return .answered(.problem(400, "Bad Request", "limit must be a whole number from 1 to 1000, not '\(parts[1])'"))
                }
                list.limit = limit
            case "cursor": list.cursor = parts[1]
            case "q": list.text = parts[1]
            default:
                return .answered(.problem(400, "Bad Request", "unknown query parameter '\(parts[0])'; use limit, cursor or q"))
            }
        }
        // A listing of one owner's documents is only shared with that owner.
        let (listRequest, traceID) = (list, request.requestID)
        return .fetch(tags: [.collection(collection)], personal: route.ownerOnly) {
            EdgeMetrics.dataCalls.increment()
            do {
                let page = try await self.data.list(listRequest, traceID: traceID)
                return EdgeResponse(status: 200, headers: [("Content-Type", "application/json")], body: DocumentRendering.page(page))
            } catch {
                return self.failure(error)
            }
        }
    }

    // MARK: Writes

    func write(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters, preconditions: RequestPreconditions
    ) async -> UpstreamWrite {
        let collection = parameters["collection"] ?? ""
        // A document is JSON text: bytes that are not UTF-8 are refused, never stored altered (RFC 8259 §8.1).
        var body = ""
        if request.method == "POST" || request.method == "PUT" {
            guard let text = String(validating: request.body, as: UTF8.self) else {
                return UpstreamWrite(response: .problem(400, "Bad Request", "invalid body: it is not valid UTF-8"), invalidates: [])
            }
            body = text
        }
        switch (request.method, parameters["id"]) {
        case ("POST", nil):
            // The target is the collection, whose listing has no entity tag.
            if case .preconditionFailed(let field) = preconditions.evaluate(.current(nil), safe: false) {
                return UpstreamWrite(
                    response: .problem(412, "Precondition Failed", "\(field) does not hold for the collection \(collection), which exists and has no entity tag"),
                    invalidates: []
                )
            }
            return await self.create(request, body: body, caller: caller, collection: collection)
        case ("PUT", let id?), ("DELETE", let id?):
            return await self.change(request, body: body, route: route, caller: caller, collection: collection, id: id, preconditions: preconditions)
        default:
            return UpstreamWrite(response: .problem(405, "Method Not Allowed", "\(request.method) \(route.path) is not a data API operation"), invalidates: [])
        }
    }

    private func create(_ request: EdgeRequest, body: String, caller: EdgeCaller, collection: String) async -> UpstreamWrite {
        await self.written(request, collection: collection, id: nil) {
            try await self.data.create(collection: collection, body: body, owner: caller.subject, traceID: request.requestID)
        }
    }

    /// `PUT` or `DELETE` of one document. When the edge must know the document first — for the ownership
    /// check of an `owner_only` route (a caller without the role `admin`), or to evaluate `If-Match` or
    /// `If-None-Match` — it reads it once, decides on what it read, and makes the write conditional on that
    /// version (`if_version`; 0 for a missing document). So a document deleted, recreated or replaced by
    /// someone else between the read and the write is never overwritten: the write conflicts, and the answer
    /// is `412` when the client sent preconditions, `409` otherwise.
    private func change(
        _ request: EdgeRequest, body: String, route: EdgeRoute, caller: EdgeCaller, collection: String, id: String, preconditions: RequestPreconditions
    ) async -> UpstreamWrite {
        let checksOwner = route.ownerOnly && caller.subject != nil && !(caller.roles ?? []).contains("admin")
        var ifVersion: Int64?
        if checksOwner || !preconditions.isEmpty {
            let current: DataDocument?
            switch await self.current(request, collection: collection, id: id) {
            case .read(let document): current = document
            case .failed(let response): return UpstreamWrite(response: response, invalidates: [])
            }
            // Without the document, DELETE is 404 whatever the preconditions say (RFC 9110 §13.2.1).
            guard current != nil || request.method != "DELETE" else {
                return UpstreamWrite(response: .problem(404, "Not Found", "document \(collection)/\(id) does not exist"), invalidates: [])
            }
            if checksOwner, let current, current.owner != caller.subject {
                return UpstreamWrite(response: .problem(403, "Forbidden", "document \(collection)/\(id) belongs to another user"), invalidates: [])
            }
            let representation = current.map { RequestPreconditions.Representation.current(EntityTag(version: $0.version)) } ?? .none
            if case .preconditionFailed(let field) = preconditions.evaluate(representation, safe: false) {
                let state = current.map { "its current entity tag is \(DocumentRendering.etag(version: $0.version))" } ?? "it does not exist"
                return UpstreamWrite(
                    response: .problem(412, "Precondition Failed", "\(field) does not hold for document \(collection)/\(id): \(state)"), invalidates: []
                )
            }
            ifVersion = current.map { $0.version } ?? 0
        }
        if request.method == "DELETE" {
            return await self.written(request, collection: collection, id: id, preconditioned: !preconditions.isEmpty) {
                try await self.data.delete(collection: collection, id: id, ifVersion: ifVersion, traceID: request.requestID)
            }
        }
        return await self.written(request, collection: collection, id: id, preconditioned: !preconditions.isEmpty) {
            try await self.data.put(collection: collection, id: id, body: body, owner: caller.subject, ifVersion: ifVersion, traceID: request.requestID)
        }
    }

    /// A write's answer, naming the document and its collection as changed. A conflict is `412` when the
    /// client sent preconditions (the version they were evaluated against is no longer current), else the
    /// data service's `409`.
    private func written(
        _ request: EdgeRequest, collection: String, id: String?, preconditioned: Bool = false, _ call: () async throws -> DataWriteResult
    ) async -> UpstreamWrite {
        do {
            let written = try await call()
            let documentID = id ?? written.document.id
            let changed: [CacheTag] = [.document(collection: collection, id: documentID), .collection(collection)]
            if request.method == "DELETE" { return UpstreamWrite(response: EdgeResponse(status: 204), invalidates: changed) }
            var headers: [(name: String, value: String)] = [("Content-Type", "application/json"), ("ETag", DocumentRendering.etag(version: written.version))]
            if written.created { headers.append(("Location", "/v1/\(collection)/\(documentID)")) }
            let response = EdgeResponse(status: written.created ? 201 : 200, headers: headers, body: DocumentRendering.document(written.document))
            return UpstreamWrite(response: response, invalidates: changed)
        } catch let error as DataClientError where error.reason == .preconditionFailed && preconditioned {
            return UpstreamWrite(
                response: .problem(412, "Precondition Failed", "the document changed while the preconditions were evaluated: \(error.message)"), invalidates: []
            )
        } catch {
            return UpstreamWrite(response: self.failure(error), invalidates: [])
        }
    }

    private enum CurrentDocument {
        /// The document, `nil` when there is none.
        case read(DataDocument?)
        case failed(EdgeResponse)
    }

    /// The document as the data service has it now (not from the cache: a write is decided on it).
    private func current(_ request: EdgeRequest, collection: String, id: String) async -> CurrentDocument {
        do {
            return .read(try await self.data.get(collection: collection, id: id, traceID: request.requestID))
        } catch let error as DataClientError where error.reason == .notFound {
            return .read(nil)
        } catch {
            return .failed(self.failure(error))
        }
    }

    /// A data-service failure as a problem: its typed errors as 4xx, an outage as 503.
    private func failure(_ error: any Error) -> EdgeResponse {
        guard let error = error as? DataClientError else {
            self.logger.debug("data service call failed", metadata: ["error": "\(error)"])
            return .problem(503, "Service Unavailable", "the data service did not answer")
        }
        switch error.reason {
        case .invalid: return .problem(400, "Bad Request", error.message)
        case .notFound: return .problem(404, "Not Found", error.message)
        case .preconditionFailed: return .problem(409, "Conflict", error.message)
        case .overloaded: return .problem(503, "Service Unavailable", "the data service is overloaded; retry shortly", headers: [("Retry-After", "1")])
        // A document larger than a frame limit on the way (`data.max_frame_bytes` here, `rpc.max_frame_bytes` there):
        // retrying cannot help, the operator must raise it. The sizes go to the log, not to the client.
        case .tooLarge:
            self.logger.warning("a document too large for a frame between this edge and the data service", metadata: ["error": "\(error)"])
            return .problem(502, "Bad Gateway", "the document is too large to pass between this gateway and the data service")
        // The error names internal addresses: it goes to the log, not to the client.
        case .unreachable, .timedOut, .methodUnknown, .failed:
            self.logger.debug("data service call failed", metadata: ["error": "\(error)"])
            return .problem(503, "Service Unavailable", "the data service is unavailable; retry shortly", headers: [("Retry-After", "1")])
        }
    }
}
