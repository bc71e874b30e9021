import GatehouseLimiterPolicies
import Logging
import Metrics
import NIOPosix
import Synchronization

/// The edge's gateway, free of any HTTP server and of any backend: bound and route the request (a CORS
/// preflight is answered here, ``CORSPolicy``) → authenticate the bearer token locally → authorize → one rate-limit decision (a 429 never reaches the
/// cache or the upstream) → serve a read from the cache, or on a miss one coalesced call to the upstream,
/// and store → or hand a write to the upstream and drop this edge's cache entries it changed before the
/// response leaves, so a client reads its own write at once (and publish an HTTP upstream's written paths
/// for the other edges, ``PathInvalidationPublisher``). Who answers is the ``EdgeUpstream``'s business.
package final class EdgeGateway: Sendable {
    let routes: Mutex<RouteTable>
    let verifier: AccessTokenVerifier
    let authEvents: AuthEventApplier
    let limiter: EdgeRateLimiter
    let failurePolicy: String?
    let recentFailures = RecentFailures()
    /// The `429`s, their bodies kept encoded.
    let refusals = RateLimitRefusal()
    let upstream: any EdgeUpstream
    /// The HTTP upstreams of routes with `upstream:`, forwarding from the HTTP server's event loops.
    let httpUpstreams: HTTPUpstreamRoutes
    let cache: ResponseCache
    /// Tells the other edges the paths a write through an HTTP upstream route dropped; `nil`: no other edges
    /// are told (a gateway without Redis, in tests).
    let pathInvalidations: PathInvalidationPublisher?
    let coalescer = RequestCoalescer<Fetched>()
    private let logger: Logger

    /// Creates the gateway.
    /// - Parameters:
    ///   - routes: The route table.
    ///   - verifier: Bearer-token verification.
    ///   - authEvents: Fetches keys again for an unknown `kid`.
    ///   - limiter: Rate-limit decisions.
    ///   - failurePolicy: The limiter policy counting failed token verifications per client address (`nil`: none).
    ///   - upstream: Answers the requests let through, except on routes with an HTTP `upstream:`.
    ///   - cache: The response cache.
    ///   - pathInvalidations: Publishes the paths of HTTP upstream writes for the other edges.
    ///   - logger: Receives one access-log line per request.
    init(
        routes: RouteTable, verifier: AccessTokenVerifier, authEvents: AuthEventApplier, limiter: EdgeRateLimiter, failurePolicy: String? = nil,
        upstream: any EdgeUpstream, cache: ResponseCache, pathInvalidations: PathInvalidationPublisher? = nil, logger: Logger
    ) {
        self.failurePolicy = failurePolicy
        self.routes = Mutex(routes)
        self.verifier = verifier
        self.authEvents = authEvents
        self.limiter = limiter
        self.upstream = upstream
        self.httpUpstreams = HTTPUpstreamRoutes(eventLoops: Array(MultiThreadedEventLoopGroup.singleton.makeIterator()), logger: logger)
        self.cache = cache
        self.pathInvalidations = pathInvalidations
        self.logger = logger
        // Health checks start with the route table.
        self.httpUpstreams.keep(only: Set(routes.routes.compactMap(\.upstream)))
    }

    /// Puts a new route table in force (a reloaded route file); requests in flight finish under the old one.
    package func replaceRoutes(_ routes: RouteTable) {
        self.routes.withLock { $0 = routes }
        self.httpUpstreams.keep(only: Set(routes.routes.compactMap(\.upstream)))
    }

    /// The bound beyond which a request's body is forwarded as it arrives: its HTTP upstream route's
    /// `max_body_bytes` for a write; `nil` (read whole) for a read or any other route.
    func requestBodyStreamingBound(method: String, path: String) -> Int? {
        guard method != "GET", method != "HEAD", case .route(let route, _) = self.routes.withLock({ $0 }).match(method: method, path: path) else {
            return nil
        }
        return route.upstream?.maximumBodyBytes
    }

    /// Answers one request; never throws: every failure is a problem response. The answer to `HEAD` is the
    /// `GET` answer; the HTTP server sends it without its body (RFC 9110 §9.3.2).
    /// - Parameters:
    ///   - request: The request.
    ///   - matched: Its route match, when ``answerAtOnce(_:)`` found it already (`nil`: matched here).
    package func handle(_ request: EdgeRequest, matched: RouteTable.Match? = nil) async -> EdgeResponse {
        let started = ContinuousClock.now
        var routeName = "unmatched"
        let response = await self.route(request, matched: matched, routeName: &routeName)
        return self.finished(response, request: request, routeName: routeName, started: started)
    }

    /// A request's answer with its `X-Request-ID`, counted, timed and logged.
    func finished(_ response: consuming EdgeResponse, request: EdgeRequest, routeName: String, started: ContinuousClock.Instant) -> EdgeResponse {
        response.headers.append(("X-Request-ID", request.requestID))
        let elapsed = (ContinuousClock.now - started).components
        EdgeMetrics.answered(route: routeName, status: response.status, nanoseconds: elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        self.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.path)", "http.status": "\(response.status)",
                "http.route": "\(routeName)", "client.ip": "\(request.clientIP)", "request.id": "\(request.requestID)",
                "duration_us": "\(elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000)",
            ]
        )
        return response
    }

    private func route(_ request: EdgeRequest, matched: RouteTable.Match?, routeName: inout String) async -> EdgeResponse {
        // A path with a dot segment or an encoded NUL could match one route and mean another to the upstream.
        if let refusal = RequestPathCheck.refusal(of: request.path) {
            return .problem(400, "Bad Request", refusal)
        }
        let table = self.routes.withLock { $0 }
        // A CORS preflight is answered here: no token, no limit (the route's `cors:`).
        if request.method == "OPTIONS", let origin = request.header("origin"), let asked = request.header("access-control-request-method"),
            case .route(let route, _) = table.match(method: asked, path: request.path), let cors = route.cors
        {
            routeName = route.path
            return cors.preflight(origin: origin, method: asked, headers: request.header("access-control-request-headers"))
        }
        let (route, parameters): (EdgeRoute, RouteParameters)
        switch matched ?? table.match(method: request.method, path: request.path) {
        case .route(let found, let foundParameters):
            (route, parameters) = (found, foundParameters)
        case .methodNotAllowed(let allowed):
            return .problem(405, "Method Not Allowed", "\(request.method) is not allowed on \(request.path)", headers: [("Allow", allowed.joined(separator: ", "))])
        case .notFound:
            return .problem(404, "Not Found", "no route for \(request.path)")
        }
        routeName = route.path
        return Self.withCORS(await self.answer(request, route: route, parameters: parameters), route: route, request: request)
    }

    /// An answer with the route's CORS fields for the request's `Origin` (none without `cors:`).
    static func withCORS(_ response: consuming EdgeResponse, route: EdgeRoute, request: EdgeRequest) -> EdgeResponse {
        guard let cors = route.cors else { return response }
        response.headers += cors.responseHeaders(origin: request.header("origin"))
        return response
    }

    /// The answer to a routed request: authenticate, authorize, limit, then the upstream.
    private func answer(_ request: EdgeRequest, route: EdgeRoute, parameters: RouteParameters) async -> EdgeResponse {
        // Authenticate.
        let caller: EdgeCaller
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
            return self.refusals.response(policy: decision.deniedBy, retryAfterSeconds: decision.retryAfterSeconds, headers: decision.headers)
        }

        var response: EdgeResponse
        do throws(RequestPreconditions.Malformed) {
            response = await self.forward(request, route: route, caller: caller, parameters: parameters, preconditions: try Self.preconditions(of: request))
        } catch {
            response = .problem(400, "Bad Request", error.detail)
        }
        response.headers += decision.headers
        return response
    }

    /// The request's `If-Match` and `If-None-Match`.
    static func preconditions(of request: EdgeRequest) throws(RequestPreconditions.Malformed) -> RequestPreconditions {
        try RequestPreconditions(ifMatch: request.header("if-match"), ifNoneMatch: request.header("if-none-match"))
    }

    /// The upstream's answer to a routed, authorized and allowed request: a read through the cache, under the
    /// request's preconditions; a write, then this edge's entries of the tags it changed are dropped.
    private func forward(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters, preconditions: RequestPreconditions
    ) async -> EdgeResponse {
        let upstream: any EdgeUpstream = route.upstream.map { self.httpUpstreams.upstream(for: $0) } ?? self.upstream
        guard request.method == "GET" || request.method == "HEAD" else {
            let written = await upstream.write(request, route: route, caller: caller, parameters: parameters, preconditions: preconditions)
            if !written.invalidates.isEmpty, (200..<300).contains(written.response.status) {
                self.cache.invalidate(written.invalidates)
                // The data service publishes its own changes; an HTTP upstream's paths are this edge's to tell.
                self.pathInvalidations?.publish(written.invalidates.compactMap { if case .path(let path) = $0 { path } else { nil } })
            }
            return written.response
        }
        switch upstream.read(request, route: route, caller: caller, parameters: parameters) {
        case .fetch(let tags, let personal, let fetch):
            return Self.conditional(await self.cached(request, route: route, caller: caller, tags: tags, personal: personal, fetch: fetch), preconditions)
        case .negotiated(let read):
            let storage = Storage.negotiated(vary: read.vary, decide: read.decide, revalidate: read.fetch)
            let fetch = read.fetch
            return Self.conditional(
                await self.cached(request, route: route, caller: caller, tags: read.tags, personal: false, storage: storage, fetch: { await fetch([]) }),
                preconditions
            )
        case .answered(let response):
            return response
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
}
