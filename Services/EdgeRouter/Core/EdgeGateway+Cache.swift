import Metrics

/// The gateway's cache step: a read is served from the ``ResponseCache`` when its route caches (fresh, or
/// stale within the route's `stale-while-revalidate`/`stale-if-error` windows), else fetched from the
/// upstream once for all concurrent identical misses (``RequestCoalescer``) and stored when it is a `200`
/// read after no invalidation of its tags (the fill ticket, taken just before the upstream is asked).
extension EdgeGateway {
    /// An upstream's answer, and whether the flight stored it (by the fill ticket taken just before the
    /// upstream was asked: an answer is refused when its tags were invalidated after the read began).
    struct Fetched: Sendable {
        var response: EdgeResponse
        var stored = false
        /// Whether callers that joined the flight may be given it (an answer no cache may keep may not).
        var shareable = true
    }

    /// Who decides whether an answer is kept, and for how long.
    enum Storage: Sendable {
        /// A `200` answer is kept for the route's freshness (the data service).
        case route
        /// The answer decides (an HTTP upstream, ``NegotiatedRead``); `vary` names the request fields in the key,
        /// `nil` when not known yet.
        case negotiated(vary: [String]?, decide: @Sendable (EdgeResponse) -> UpstreamCachePolicy.Decision)
    }

    /// Serves a read from the cache when the route caches, else fetches; fills the cache with what was fetched.
    func cached(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, tags: [CacheTag], personal: Bool, storage: Storage = .route,
        fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> EdgeResponse {
        guard let caching = route.caching else {
            // An HTTP upstream's answer may depend on the caller's identity fields: never shared uncached.
            if case .negotiated = storage { return await fetch() }
            let key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: personal ? caller.subject : nil)
            return await self.fetched(key: key, fetch).response
        }
        if caching.scope == .user, caller.subject == nil {
            return .problem(401, "Unauthorized", "this route's answers are personal: it needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)])
        }
        var key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: caching.scope == .user || personal ? caller.subject : nil)
        if case .negotiated(let vary?, _) = storage {
            // The varying fields' values (RFC 9111 §4.1); a control character cannot occur in a path or a field.
            for name in vary { key += "\u{1F}\(name)=\(request.header(name) ?? "")" }
        }
        var response = await self.lookupOrFill(key: key, caching: caching, tags: tags, storage: storage, fetch: fetch)
        // A personal answer must not be kept by a shared cache between this edge and the client.
        // (Problems already say `no-store`.)
        if caching.scope == .user, response.status < 400 { response.headers.append(("Cache-Control", "private")) }
        return response
    }

    private func lookupOrFill(
        key: String, caching: EdgeRoute.Caching, tags: [CacheTag], storage: Storage, fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> EdgeResponse {
        switch self.cache.lookup(key) {
        case .fresh(let cached, let age):
            EdgeMetrics.cacheHits.increment()
            guard case .route = storage else { return Self.respond(cached, status: "gatehouse; hit", age: age) }
            let ttl = (caching.freshness.ttl - age).components.seconds
            return Self.respond(cached, status: "gatehouse; hit; ttl=\(ttl)", age: age)
        case .stale(let cached, let age, let revalidate, let ifError):
            EdgeMetrics.cacheStaleHits.increment()
            if revalidate {
                // Serve stale now; one coalesced request refreshes the entry.
                Task { await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, fetch: fetch) }
                guard case .route = storage else { return Self.respond(cached, status: #"gatehouse; hit; detail="stale-while-revalidate""#, age: age) }
                return Self.respond(cached, status: #"gatehouse; hit; ttl=\#(-(age - caching.freshness.ttl).components.seconds); detail="stale-while-revalidate""#, age: age)
            }
            let (fresh, _) = await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, fetch: fetch)
            if fresh.status >= 500, ifError {
                return Self.respond(cached, status: #"gatehouse; hit; detail="stale-if-error""#, age: age)
            }
            return Self.withCacheStatus(fresh, "gatehouse; fwd=stale; fwd-status=\(fresh.status)")
        case .miss:
            EdgeMetrics.cacheMisses.increment()
            let (fresh, stored) = await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, fetch: fetch)
            return Self.withCacheStatus(fresh, stored ? "gatehouse; fwd=uri-miss; stored" : "gatehouse; fwd=uri-miss")
        }
    }

    /// Fetches and stores what `storage` lets be kept (for the data service: a 200 read), unless one of its
    /// tags was invalidated meanwhile; returns whether it stored. The store happens inside the coalesced
    /// flight, before the flight ends: a request that misses just after it finds the entry instead of
    /// starting another fetch.
    @discardableResult
    private func fill(
        key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, storage: Storage, fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> (response: EdgeResponse, stored: Bool) {
        switch storage {
        case .route:
            let fetched = await self.coalescer.value(for: key) {
                let ticket = self.cache.ticket()
                let response = await fetch()
                let stored = response.status == 200 && self.store(response, key: key, tags: tags, freshness: freshness, ticket: ticket)
                return Fetched(response: response, stored: stored)
            }.value
            return (fetched.response, fetched.stored)
        case .negotiated(let vary, let decide):
            let flight = { @Sendable () async -> Fetched in
                let ticket = self.cache.ticket()
                let response = await fetch()
                // A streamed answer (longer than the route's bound) is neither kept nor shared.
                guard response.bodyStream == nil, case .store(let decided, let answerVary) = decide(response) else {
                    return Fetched(response: response, shareable: false)
                }
                guard answerVary == (vary ?? []), decided.ttl > .zero || decided.staleIfError > .zero || decided.staleWhileRevalidate > .zero else {
                    return Fetched(response: response)
                }
                return Fetched(response: response, stored: self.store(response, key: key, tags: tags, freshness: decided, ticket: ticket))
            }
            // Shared with concurrent reads only once the fields the answers vary on are known.
            guard vary != nil else {
                let fetched = await flight()
                return (fetched.response, fetched.stored)
            }
            let (fetched, leader) = await self.coalescer.value(for: key, fetch: flight)
            // An answer no cache may keep is for the one who asked it: the others ask for theirs.
            guard fetched.shareable || leader else { return (await fetch(), false) }
            return (fetched.response, fetched.stored)
        }
    }

    /// Stores an answer for `freshness`, unless one of its tags was invalidated after `ticket` was taken.
    private func store(_ response: EdgeResponse, key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, ticket: ResponseCache.FillTicket) -> Bool {
        let cached = CachedResponse(
            status: response.status, body: response.body, etag: response.header("ETag"), contentType: response.header("Content-Type") ?? "application/json"
        )
        let outcome = self.cache.store(cached, for: key, tags: tags, freshness: freshness, ticket: ticket)
        let statistics = self.cache.statistics
        EdgeMetrics.cacheBytes.record(statistics.bytes)
        EdgeMetrics.cacheEntries.record(statistics.entries)
        return outcome == .stored
    }

    /// The upstream's answer for `key` on a route that does not cache: from the fetch in flight for it, or from a new one.
    private func fetched(key: String, _ fetch: @escaping @Sendable () async -> EdgeResponse) async -> Fetched {
        await self.coalescer.value(for: key) { Fetched(response: await fetch()) }.value
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
}
