import Synchronization

/// The gateway's answer without waiting: the requests that make most of an edge's load (a cached document
/// read again by a caller whose token was verified before, under leased units; a flooding caller's `429`)
/// need nothing that can wait, and are answered within the read that brought them, with no task.
extension EdgeGateway {
    /// What ``answerAtOnce(_:)`` came to.
    package enum AtOnce: Sendable {
        /// The answer, exactly as ``handle(_:matched:)`` would give it.
        case answered(EdgeResponse)
        /// The request needs ``handle(_:matched:)``; nothing was changed. The route match found on the way,
        /// if any, is passed on so the request is not matched twice.
        case later(matched: RouteTable.Match?)
    }

    /// The answer to `request` when it needs no wait: a `GET` or `HEAD` on a caching route of the data
    /// service whose entry is fresh, by a caller known without waiting (``authenticatedAtOnce(_:route:)``)
    /// and authorized, decided from the units this edge holds or from the memory of denials
    /// (``EdgeRateLimiter/decideAtOnce(policies:for:)``). For any other request nothing was changed (no unit
    /// spent, no acquire started; the entry only counted as recently used), and ``handle(_:matched:)``
    /// answers it.
    package func answerAtOnce(_ request: EdgeRequest) -> AtOnce {
        let started = ContinuousClock.now
        guard request.method == "GET" || request.method == "HEAD", RequestPathCheck.refusal(of: request.path) == nil else {
            return .later(matched: nil)
        }
        let match = self.routes.withLock({ $0 }).match(method: request.method, path: request.path)
        guard case .route(let route, let parameters) = match, route.upstream == nil, let caching = route.caching,
            let caller = self.authenticatedAtOnce(request, route: route), Self.authorize(caller, route: route) == nil,
            caching.scope != .user || caller.subject != nil,
            case .fetch(_, let personal, _) = self.upstream.read(request, route: route, caller: caller, parameters: parameters),
            case .fresh(let cached, let age) = self.cache.lookup(Self.cacheKey(request, caching: caching, caller: caller, personal: personal))
        else { return .later(matched: match) }
        let tier = route.tier(forRoles: caller.roles)
        let keyValues = self.limiter.keyValues(of: request, route: route.path, claims: caller.claims, tier: tier?.name ?? "")
        guard let decision = self.limiter.decideAtOnce(policies: tier?.policies ?? [], for: keyValues) else { return .later(matched: match) }
        var response: EdgeResponse
        if !decision.allowed {
            response = self.refusals.response(policy: decision.deniedBy, retryAfterSeconds: decision.retryAfterSeconds, headers: decision.headers)
        } else {
            do throws(RequestPreconditions.Malformed) {
                let preconditions = try Self.preconditions(of: request)
                response = Self.conditional(Self.keptPrivate(Self.freshHit(cached, age: age, caching: caching, storage: .route), caching: caching), preconditions)
            } catch {
                response = .problem(400, "Bad Request", error.detail)
            }
            response.headers += decision.headers
        }
        return .answered(self.finished(Self.withCORS(consume response, route: route, request: request), request: request, routeName: route.path, started: started))
    }
}
