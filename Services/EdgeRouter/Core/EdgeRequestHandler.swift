import Foundation
import GatehouseAuthAPI
import GatehouseDataAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import JWTKit
import Logging
import Metrics
import Synchronization

/// The edge router's pipeline, free of any HTTP server: bound and route the request → authenticate the
/// bearer token locally → one limiter decision (a 429 never reaches the cache or the data service) → serve
/// from the cache → on a miss, one coalesced call to the data service → store and respond. Writes go to the
/// data service and drop this edge's own entries of the document and its collection before the response
/// leaves, so a client reads its own write at once.
public final class EdgeRequestHandler: Sendable {
    private let routes: Mutex<RouteTable>
    private let verifier: AccessTokenVerifier
    private let authEvents: AuthEventApplier
    private let limiter: EdgeRateLimiter
    private let failurePolicy: String?
    private let recentFailures = RecentFailures()
    private let data: RPCClient
    private let cache: ResponseCache
    private let coalescer = RequestCoalescer<Fetched<Gatehouse_Data_Document?>>()
    private let listCoalescer = RequestCoalescer<Fetched<Gatehouse_Data_ListResponse>>()
    private let logger: Logger

    /// Creates the pipeline.
    /// - Parameters:
    ///   - routes: The route table.
    ///   - verifier: Bearer-token verification.
    ///   - authEvents: Fetches keys again for an unknown `kid`.
    ///   - limiter: Rate-limit decisions.
    ///   - failurePolicy: The limiter policy counting failed token verifications per client address (`nil`: none).
    ///   - data: The data service's RPC client.
    ///   - cache: The response cache.
    ///   - logger: Receives one access-log line per request.
    public init(
        routes: RouteTable, verifier: AccessTokenVerifier, authEvents: AuthEventApplier, limiter: EdgeRateLimiter, failurePolicy: String? = nil,
        data: RPCClient, cache: ResponseCache, logger: Logger
    ) {
        self.failurePolicy = failurePolicy
        self.routes = Mutex(routes)
        self.verifier = verifier
        self.authEvents = authEvents
        self.limiter = limiter
        self.data = data
        self.cache = cache
        self.logger = logger
    }

    /// A data-service answer with the fill ticket taken just before its call: every caller that joined the
    /// flight stores (or refuses) the answer by when the read began, not by when it joined.
    struct Fetched<Value: Sendable>: Sendable {
        var value: Value
        var ticket: ResponseCache.FillTicket
    }

    /// Puts a new route table in force (a reloaded route file); requests in flight finish under the old one.
    public func replaceRoutes(_ routes: RouteTable) {
        self.routes.withLock { $0 = routes }
    }

    /// Who is calling, once authenticated.
    struct Caller {
        var claims: AccessTokenClaims?
        var subject: String? { self.claims?.sub.value }
        var roles: [String]? { self.claims?.roles }
    }

    /// Answers one request; never throws: every failure is a problem response. The answer to `HEAD` is the
    /// `GET` answer; the HTTP server sends it without its body (RFC 9110 §9.3.2).
    public func handle(_ request: EdgeRequest) async -> EdgeResponse {
        let started = ContinuousClock.now
        var routeName = "unmatched"
        var response = await self.route(request, routeName: &routeName)
        response.headers.append(("X-Request-ID", request.requestID))
        EdgeMetrics.response(route: routeName, status: response.status).increment()
        let elapsed = ContinuousClock.now - started
        EdgeMetrics.latency(route: routeName).recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        self.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.path)", "http.status": "\(response.status)",
                "http.route": "\(routeName)", "client.ip": "\(request.clientIP)", "request.id": "\(request.requestID)",
                "duration_us": "\(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)",
            ]
        )
        return response
    }

    private func route(_ request: EdgeRequest, routeName: inout String) async -> EdgeResponse {
        let (route, parameters): (EdgeRoute, [String: String])
        switch self.routes.withLock({ $0 }).match(method: request.method, path: request.path) {
        case .route(let matched, let found):
            (route, parameters) = (matched, found)
        case .methodNotAllowed(let allowed):
            return .problem(405, "Method Not Allowed", "\(request.method) is not allowed on \(request.path)", headers: [("Allow", allowed.joined(separator: ", "))])
        case .notFound:
            return .problem(404, "Not Found", "no route for \(request.path)")
        }
        routeName = route.path

        // Authenticate.
        let caller: Caller
        switch await self.authenticate(request, route: route) {
        case .caller(let authenticated): caller = authenticated
        case .refused(let response): return response
        }
        if let denied = Self.authorize(caller, route: route) { return denied }

        // One limiter decision, each policy keyed as its key parts say.
        let tier = route.tier(forRoles: caller.roles)
        let decision = await self.limiter.decide(
            policies: tier?.policies ?? [], for: self.limiter.keyValues(of: request, route: route.path, claims: caller.claims, tier: tier?.name ?? ""),
            requestID: request.requestID
        )
        guard decision.allowed else {
            return .problem(
                429, "Too Many Requests",
                "rate limit '\(decision.deniedBy ?? "?")' exceeded; retry after \(decision.retryAfterSeconds) s",
                headers: decision.headers + [("Retry-After", "\(decision.retryAfterSeconds)")]
            )
        }

        var response: EdgeResponse
        do throws(RequestPreconditions.Malformed) {
            let preconditions = try RequestPreconditions(ifMatch: request.header("if-match"), ifNoneMatch: request.header("if-none-match"))
            response = await self.perform(request, route: route, caller: caller, parameters: parameters, preconditions: preconditions)
        } catch {
            response = .problem(400, "Bad Request", error.detail)
        }
        response.headers += decision.headers
        return response
    }

    /// The data API operation of a routed, authorized and allowed request.
    private func perform(
        _ request: EdgeRequest, route: EdgeRoute, caller: Caller, parameters: [String: String], preconditions: RequestPreconditions
    ) async -> EdgeResponse {
        let collection = parameters["collection"] ?? ""
        switch (request.method, parameters["id"]) {
        case ("GET", let id?), ("HEAD", let id?):
            return Self.conditional(await self.read(request, route: route, caller: caller, collection: collection, id: id), preconditions)
        case ("GET", nil), ("HEAD", nil):
            return Self.conditional(await self.list(request, route: route, caller: caller, collection: collection), preconditions)
        case ("POST", nil):
            // The target is the collection, whose listing has no entity tag.
            if case .preconditionFailed(let field) = preconditions.evaluate(.current(nil), safe: false) {
                return .problem(412, "Precondition Failed", "\(field) does not hold for the collection \(collection), which exists and has no entity tag")
            }
            return await self.create(request, caller: caller, collection: collection)
        case ("PUT", let id?), ("DELETE", let id?):
            return await self.change(request, route: route, caller: caller, collection: collection, id: id, preconditions: preconditions)
        default:
            return .problem(405, "Method Not Allowed", "\(request.method) \(route.path) is not a data API operation")
        }
    }

    /// A read's answer under the request's preconditions: evaluated only for a `2xx` answer (RFC 9110 §13.2.1),
    /// against its `ETag` (a listing has none); `304` keeps the answer's header fields without its body.
    static func conditional(_ response: EdgeResponse, _ preconditions: RequestPreconditions) -> EdgeResponse {
        guard !preconditions.isEmpty, (200..<300).contains(response.status) else { return response }
        let tag = response.header("ETag").flatMap(EntityTag.init(field:))
        switch preconditions.evaluate(.current(tag), safe: true) {
        case .proceed:
            return response
        case .notModified:
            return EdgeResponse(status: 304, headers: response.headers)
        case .preconditionFailed(let field):
            let current = response.header("ETag").map { "the current entity tag is \($0)" } ?? "the answer has no entity tag"
            return .problem(412, "Precondition Failed", "\(field) does not hold: \(current)")
        }
    }

    // MARK: Authentication

    enum Authenticated {
        case caller(Caller)
        case refused(EdgeResponse)
    }

    private func authenticate(_ request: EdgeRequest, route: EdgeRoute) async -> Authenticated {
        guard route.authentication != .none else { return .caller(Caller()) }
        guard let authorization = request.header("authorization") else {
            if route.authentication == .optional { return .caller(Caller()) }
            return .refused(.problem(401, "Unauthorized", "this route needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)]))
        }
        let address = "ip:\(request.clientIP)"
        let bearer = Self.bearerToken(authorization)
        if let policy = self.failurePolicy, self.recentFailures.contains(address), !(bearer.map(self.verifier.isRemembered) ?? false) {
            // This address sent bad tokens lately: ask its failure budget before any signature work.
            let budget = await self.limiter.decide(
                policies: [policy], for: self.failureKeyValues(request, route: route), requestID: request.requestID, charge: false
            )
            if !budget.allowed {
                return .refused(.problem(
                    429, "Too Many Requests", "too many invalid tokens from this address; retry after \(budget.retryAfterSeconds) s",
                    headers: [("Retry-After", "\(budget.retryAfterSeconds)")]
                ))
            }
        }
        guard let token = bearer else {
            await self.tokenFailed(request, route: route)
            return .refused(Self.invalidToken(.malformed))
        }
        var result = await self.verifier.verify(token)
        if case .failure(.unknownKey) = result, await self.authEvents.unknownKeySeen() {
            result = await self.verifier.verify(token)
        }
        switch result {
        case .success(let claims):
            return .caller(Caller(claims: claims))
        case .failure(let rejection):
            EdgeMetrics.authFailure(rejection).increment()
            await self.tokenFailed(request, route: route)
            return .refused(Self.invalidToken(rejection))
        }
    }

    /// Counts a failed verification against the address's failure budget and marks the address.
    private func tokenFailed(_ request: EdgeRequest, route: EdgeRoute) async {
        guard let policy = self.failurePolicy else { return }
        self.recentFailures.mark("ip:\(request.clientIP)")
        _ = await self.limiter.decide(policies: [policy], for: self.failureKeyValues(request, route: route), requestID: request.requestID)
    }

    /// The key values of a request whose token failed: an anonymous caller (tier `anonymous`).
    private func failureKeyValues(_ request: EdgeRequest, route: EdgeRoute) -> PolicyKeyValues {
        self.limiter.keyValues(of: request, route: route.path, claims: nil, tier: "anonymous")
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, spaces trimmed), read as bytes: splitting and
    /// trimming a 600-character header by `Character` was 40% of the edge's CPU per request.
    static func bearerToken(_ authorization: String) -> String? {
        let bytes = authorization.utf8
        guard bytes.count > 7, let space = bytes.firstIndex(of: UInt8(ascii: " ")),
            bytes.distance(from: bytes.startIndex, to: space) == 6,
            String(Substring(bytes[bytes.startIndex..<space])).lowercased() == "bearer"
        else { return nil }
        let token = Substring(bytes[bytes.index(after: space)...]).trimmingASCIISpaces()
        return token.isEmpty ? nil : token
    }

    static func invalidToken(_ rejection: TokenRejection) -> EdgeResponse {
        .problem(
            401, "Unauthorized", rejection.message,
            headers: [("WWW-Authenticate", #"Bearer realm="gatehouse", error="invalid_token", error_description=""# + rejection.message + "\"")]
        )
    }

    static func authorize(_ caller: Caller, route: EdgeRoute) -> EdgeResponse? {
        guard let claims = caller.claims else {
            return route.roles.isEmpty && route.scopes.isEmpty && !route.ownerOnly
                ? nil : .problem(401, "Unauthorized", "this route needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)])
        }
        if !route.roles.isEmpty, !route.roles.contains(where: claims.roles.contains) {
            return .problem(403, "Forbidden", "this route needs one of the roles \(route.roles.joined(separator: ", "))")
        }
        let missing = route.scopes.filter { !claims.scopes.contains($0) }
        if !missing.isEmpty {
            return .problem(
                403, "Forbidden", "the token lacks the scope \(missing.joined(separator: " "))",
                headers: [("WWW-Authenticate", #"Bearer realm="gatehouse", error="insufficient_scope", scope=""# + route.scopes.joined(separator: " ") + "\"")]
            )
        }
        return nil
    }

    // MARK: Reads

    private func read(_ request: EdgeRequest, route: EdgeRoute, caller: Caller, collection: String, id: String) async -> EdgeResponse {
        let tags: [CacheTag] = [.document(collection: collection, id: id)]
        return await self.cached(request, route: route, caller: caller, tags: tags) {
            var get = Gatehouse_Data_GetRequest()
            get.collection = collection
            get.id = id
            let getRequest = get
            let fetched = try await self.coalescer.value(for: "\(collection)/\(id)") {
                EdgeMetrics.dataCalls.increment()
                let ticket = self.cache.ticket()
                do {
                    return Fetched(value: try await self.data.call(DataMethods.get, getRequest, traceID: request.requestID).document, ticket: ticket)
                } catch let error as RPCError where error.code == .notFound {
                    return Fetched(value: nil, ticket: ticket)
                }
            }.value
            guard let document = fetched.value else {
                return (.problem(404, "Not Found", "document \(collection)/\(id) does not exist"), fetched.ticket)
            }
            let response = EdgeResponse(
                status: 200, headers: [("Content-Type", "application/json"), ("ETag", DocumentRendering.etag(version: document.version))],
                body: DocumentRendering.document(document)
            )
            return (response, fetched.ticket)
        }
    }

    private func list(_ request: EdgeRequest, route: EdgeRoute, caller: Caller, collection: String) async -> EdgeResponse {
        var list = Gatehouse_Data_ListRequest()
        list.collection = collection
        if route.ownerOnly, let subject = caller.subject { list.owner = subject }
        var seen: Set<String> = []
        for pair in (request.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            guard parts.count == 2 else { continue }
            // One value per name: the cache key sorts the pairs, so `?q=a&q=b` and `?q=b&q=a` must not differ.
            guard seen.insert(parts[0]).inserted else {
                return .problem(400, "Bad Request", "query parameter '\(parts[0])' is given twice; give it once")
            }
            switch parts[0] {
            case "limit":
                guard let limit = UInt32(parts[1]), (1...1000).contains(limit) else {
                    return .problem(400, "Bad Request", "limit must be a whole number from 1 to 1000, not '\(parts[1])'")
                }
                list.limit = limit
            case "cursor": list.cursor = parts[1]
            case "q": list.q = parts[1]
            default:
                return .problem(400, "Bad Request", "unknown query parameter '\(parts[0])'; use limit, cursor or q")
            }
        }
        // The coalescing key: a listing of one owner's documents is only shared with that owner.
        let key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: route.ownerOnly ? caller.subject : nil)
        let listRequest = list
        return await self.cached(request, route: route, caller: caller, tags: [.collection(collection)]) {
            let fetched = try await self.listCoalescer.value(for: key) {
                EdgeMetrics.dataCalls.increment()
                let ticket = self.cache.ticket()
                return Fetched(value: try await self.data.call(DataMethods.list, listRequest, traceID: request.requestID), ticket: ticket)
            }.value
            return (EdgeResponse(status: 200, headers: [("Content-Type", "application/json")], body: DocumentRendering.page(fetched.value)), fetched.ticket)
        }
    }

    /// Serves a read from the cache when the route caches, else fetches; fills the cache with what was fetched.
    private func cached(
        _ request: EdgeRequest, route: EdgeRoute, caller: Caller, tags: [CacheTag],
        fetch: @escaping @Sendable () async throws -> (EdgeResponse, ResponseCache.FillTicket)
    ) async -> EdgeResponse {
        guard let caching = route.caching else {
            return await self.answer(fetch).response
        }
        if caching.scope == .user, caller.subject == nil {
            return .problem(401, "Unauthorized", "this route's answers are personal: it needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)])
        }
        var response = await self.lookupOrFill(request, caching: caching, caller: caller, tags: tags, fetch: fetch)
        // A personal answer must not be kept by a shared cache between this edge and the client.
        // (Problems already say `no-store`.)
        if caching.scope == .user, response.status < 400 { response.headers.append(("Cache-Control", "private")) }
        return response
    }

    private func lookupOrFill(
        _ request: EdgeRequest, caching: EdgeRoute.Caching, caller: Caller, tags: [CacheTag],
        fetch: @escaping @Sendable () async throws -> (EdgeResponse, ResponseCache.FillTicket)
    ) async -> EdgeResponse {
        let key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: caching.scope == .user ? caller.subject : nil)
        switch self.cache.lookup(key) {
        case .fresh(let cached, let age):
            EdgeMetrics.cacheHits.increment()
            let ttl = (caching.freshness.ttl - age).components.seconds
            return Self.respond(cached, status: "gatehouse; hit; ttl=\(ttl)", age: age)
        case .stale(let cached, let age, let revalidate, let ifError):
            EdgeMetrics.cacheStaleHits.increment()
            if revalidate {
                // Serve stale now; one coalesced request refreshes the entry.
                Task { await self.fill(key: key, tags: tags, freshness: caching.freshness, fetch: fetch) }
                return Self.respond(cached, status: #"gatehouse; hit; ttl=\#(-(age - caching.freshness.ttl).components.seconds); detail="stale-while-revalidate""#, age: age)
            }
            let (fresh, _) = await self.fill(key: key, tags: tags, freshness: caching.freshness, fetch: fetch)
            if fresh.status >= 500, ifError {
                return Self.respond(cached, status: #"gatehouse; hit; detail="stale-if-error""#, age: age)
            }
            return Self.withCacheStatus(fresh, "gatehouse; fwd=stale; fwd-status=\(fresh.status)")
        case .miss:
            EdgeMetrics.cacheMisses.increment()
            let (fresh, stored) = await self.fill(key: key, tags: tags, freshness: caching.freshness, fetch: fetch)
            return Self.withCacheStatus(fresh, stored ? "gatehouse; fwd=uri-miss; stored" : "gatehouse; fwd=uri-miss")
        }
    }

    /// Fetches and, for a 200 read after no invalidation of its tags, stores; returns whether it stored.
    @discardableResult
    private func fill(
        key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, fetch: @Sendable () async throws -> (EdgeResponse, ResponseCache.FillTicket)
    ) async -> (response: EdgeResponse, stored: Bool) {
        let (response, ticket) = await self.answer(fetch)
        guard response.status == 200, let ticket else { return (response, false) }
        let cached = CachedResponse(status: 200, body: response.body, etag: response.header("ETag"), contentType: response.header("Content-Type") ?? "application/json")
        let outcome = self.cache.store(cached, for: key, tags: tags, freshness: freshness, ticket: ticket)
        let statistics = self.cache.statistics
        EdgeMetrics.cacheBytes.record(statistics.bytes)
        EdgeMetrics.cacheEntries.record(statistics.entries)
        return (response, outcome == .stored)
    }

    private func answer(_ fetch: @Sendable () async throws -> (EdgeResponse, ResponseCache.FillTicket)) async -> (response: EdgeResponse, ticket: ResponseCache.FillTicket?) {
        do {
            let (response, ticket) = try await fetch()
            return (response, ticket)
        } catch {
            return (self.dataFailure(error), nil)
        }
    }

    static func respond(_ cached: CachedResponse, status: String, age: Duration) -> EdgeResponse {
        var headers: [(name: String, value: String)] = [("Content-Type", cached.contentType), ("Age", "\(age.components.seconds)"), ("Cache-Status", status)]
        if let etag = cached.etag { headers.append(("ETag", etag)) }
        return EdgeResponse(status: cached.status, headers: headers, body: cached.body)
    }

    static func withCacheStatus(_ response: EdgeResponse, _ status: String) -> EdgeResponse {
        var response = response
        response.headers.append(("Cache-Status", status))
        return response
    }

    // MARK: Writes

    private func create(_ request: EdgeRequest, caller: Caller, collection: String) async -> EdgeResponse {
        var create = Gatehouse_Data_CreateRequest()
        create.collection = collection
        create.body = String(decoding: request.body, as: UTF8.self)
        create.owner = caller.subject ?? ""
        return await self.write(request, collection: collection, id: nil) {
            try await self.data.call(DataMethods.create, create, traceID: request.requestID)
        }
    }

    /// `PUT` or `DELETE` of one document. When the edge must know the document first — for the ownership
    /// check of an `owner_only` route (a caller without the role `admin`), or to evaluate `If-Match` or
    /// `If-None-Match` — it reads it once, decides on what it read, and makes the write conditional on that
    /// version (`if_version`; 0 for a missing document). So a document deleted, recreated or replaced by
    /// someone else between the read and the write is never overwritten: the write conflicts, and the answer
    /// is `412` when the client sent preconditions, `409` otherwise.
    private func change(
        _ request: EdgeRequest, route: EdgeRoute, caller: Caller, collection: String, id: String, preconditions: RequestPreconditions
    ) async -> EdgeResponse {
        let checksOwner = route.ownerOnly && caller.subject != nil && !(caller.roles ?? []).contains("admin")
        var ifVersion: Int64?
        if checksOwner || !preconditions.isEmpty {
            let current: Gatehouse_Data_Document?
            switch await self.current(request, collection: collection, id: id) {
            case .read(let document): current = document
            case .failed(let response): return response
            }
            // Without the document, DELETE is 404 whatever the preconditions say (RFC 9110 §13.2.1).
            guard current != nil || request.method != "DELETE" else {
                return .problem(404, "Not Found", "document \(collection)/\(id) does not exist")
            }
            if checksOwner, let current, current.owner != caller.subject {
                return .problem(403, "Forbidden", "document \(collection)/\(id) belongs to another user")
            }
            let representation = current.map { RequestPreconditions.Representation.current(EntityTag(version: Int64($0.version))) } ?? .none
            if case .preconditionFailed(let field) = preconditions.evaluate(representation, safe: false) {
                let state = current.map { "its current entity tag is \(DocumentRendering.etag(version: Int64($0.version)))" } ?? "it does not exist"
                return .problem(412, "Precondition Failed", "\(field) does not hold for document \(collection)/\(id): \(state)")
            }
            ifVersion = current.map { Int64($0.version) } ?? 0
        }
        if request.method == "DELETE" {
            var delete = Gatehouse_Data_DeleteRequest()
            delete.collection = collection
            delete.id = id
            if let ifVersion { delete.ifVersion = ifVersion }
            return await self.write(request, collection: collection, id: id, preconditioned: !preconditions.isEmpty) {
                try await self.data.call(DataMethods.delete, delete, traceID: request.requestID)
            }
        }
        var put = Gatehouse_Data_PutRequest()
        put.collection = collection
        put.id = id
        put.body = String(decoding: request.body, as: UTF8.self)
        put.owner = caller.subject ?? ""
        if let ifVersion { put.ifVersion = ifVersion }
        return await self.write(request, collection: collection, id: id, preconditioned: !preconditions.isEmpty) {
            try await self.data.call(DataMethods.put, put, traceID: request.requestID)
        }
    }

    /// A write, then this edge's own entries of the document and its collection are dropped before answering.
    /// A conflict is `412` when the client sent preconditions (the version they were evaluated against is no
    /// longer current), else the data service's `409`.
    private func write(
        _ request: EdgeRequest, collection: String, id: String?, preconditioned: Bool = false, _ call: () async throws -> Gatehouse_Data_WriteResponse
    ) async -> EdgeResponse {
        do {
            let written = try await call()
            let documentID = id ?? written.document.id
            self.cache.invalidate([.document(collection: collection, id: documentID), .collection(collection)])
            if request.method == "DELETE" { return EdgeResponse(status: 204) }
            var headers: [(name: String, value: String)] = [("Content-Type", "application/json"), ("ETag", DocumentRendering.etag(version: written.version))]
            if written.created { headers.append(("Location", "/v1/\(collection)/\(documentID)")) }
            return EdgeResponse(status: written.created ? 201 : 200, headers: headers, body: DocumentRendering.document(written.document))
        } catch let error as RPCError where error.code == .conflict && preconditioned {
            return .problem(412, "Precondition Failed", "the document changed while the preconditions were evaluated: \(error.message)")
        } catch {
            return self.dataFailure(error)
        }
    }

    enum CurrentDocument {
        /// The document, `nil` when there is none.
        case read(Gatehouse_Data_Document?)
        case failed(EdgeResponse)
    }

    /// The document as the data service has it now (not from the cache: a write is decided on it).
    private func current(_ request: EdgeRequest, collection: String, id: String) async -> CurrentDocument {
        var get = Gatehouse_Data_GetRequest()
        get.collection = collection
        get.id = id
        do {
            return .read(try await self.data.call(DataMethods.get, get, traceID: request.requestID).document)
        } catch let error as RPCError where error.code == .notFound {
            return .read(nil)
        } catch {
            return .failed(self.dataFailure(error))
        }
    }

    /// A data-service failure as a problem: its typed errors as 4xx, an outage as 503.
    func dataFailure(_ error: any Error) -> EdgeResponse {
        guard let error = error as? RPCError else {
            self.logger.debug("data service call failed", metadata: ["error": "\(error)"])
            return .problem(503, "Service Unavailable", "the data service did not answer")
        }
        switch error.code {
        case .invalidArgument: return .problem(400, "Bad Request", error.message)
        case .notFound: return .problem(404, "Not Found", error.message)
        case .conflict: return .problem(409, "Conflict", error.message)
        case .resourceExhausted: return .problem(503, "Service Unavailable", "the data service is overloaded; retry shortly", headers: [("Retry-After", "1")])
        // A document larger than a frame limit on the way (`data.max_frame_bytes` here, `rpc.max_frame_bytes` there):
        // retrying cannot help, the operator must raise it. The sizes go to the log, not to the client.
        case .frameTooLarge:
            self.logger.warning("a document too large for a frame between this edge and the data service", metadata: ["error": "\(error)"])
            return .problem(502, "Bad Gateway", "the document is too large to pass between this gateway and the data service")
        // The RPC error names internal addresses: it goes to the log, not to the client.
        default:
            self.logger.debug("data service call failed", metadata: ["error": "\(error)"])
            return .problem(503, "Service Unavailable", "the data service is unavailable; retry shortly", headers: [("Retry-After", "1")])
        }
    }
}
