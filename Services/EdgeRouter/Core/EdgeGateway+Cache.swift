import Metrics

/// The gateway's cache step: a read is served from the ``ResponseCache`` when its route caches (fresh, or
/// stale within the route's `stale-while-revalidate`/`stale-if-error` windows), else fetched from the
/// upstream once for all concurrent identical misses (``RequestCoalescer``) and stored when it is a `200`
/// read after no invalidation of its tags (the fill ticket, taken just before the upstream is asked).
extension EdgeGateway {
    /// An upstream's answer with the fill ticket taken just before it was asked: every caller that joined the
    /// flight stores (or refuses) the answer by when the read began, not by when it joined.
    struct Fetched: Sendable {
        var response: EdgeResponse
        var ticket: ResponseCache.FillTicket
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
    /// tags was invalidated meanwhile; returns whether it stored.
    @discardableResult
    private func fill(
        key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, storage: Storage, fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> (response: EdgeResponse, stored: Bool) {
        var fetched: Fetched
        var kept = freshness
        switch storage {
        case .route:
            fetched = await self.fetched(key: key, fetch)
            guard fetched.response.status == 200 else { return (fetched.response, false) }
        case .negotiated(let vary, let decide):
            // Shared with concurrent reads only once the fields the answers vary on are known.
            let leader: Bool
            if vary == nil {
                let ticket = self.cache.ticket()
                (fetched, leader) = (Fetched(response: await fetch(), ticket: ticket), true)
            } else {
                (fetched, leader) = await self.fetchedWithLeader(key: key, fetch)
            }
            guard case .store(let decided, let answerVary) = decide(fetched.response) else {
                // An answer no cache may keep is for the one who asked it: the others ask for theirs.
                return (leader ? fetched.response : await fetch(), false)
            }
            guard answerVary == (vary ?? []), decided.ttl > .zero || decided.staleIfError > .zero || decided.staleWhileRevalidate > .zero else {
                return (fetched.response, false)
            }
            kept = decided
        }
        let response = fetched.response
        let cached = CachedResponse(
            status: response.status, body: response.body, etag: response.header("ETag"), contentType: response.header("Content-Type") ?? "application/json"
        )
        let outcome = self.cache.store(cached, for: key, tags: tags, freshness: kept, ticket: fetched.ticket)
        let statistics = self.cache.statistics
        EdgeMetrics.cacheBytes.record(statistics.bytes)
        EdgeMetrics.cacheEntries.record(statistics.entries)
        return (response, outcome == .stored)
    }

    /// The upstream's answer for `key`: from the fetch in flight for it, or from a new one.
    private func fetched(key: String, _ fetch: @escaping @Sendable () async -> EdgeResponse) async -> Fetched {
        await self.fetchedWithLeader(key: key, fetch).fetched
    }

    /// The upstream's answer for `key`, and whether this caller's fetch made it.
    private func fetchedWithLeader(key: String, _ fetch: @escaping @Sendable () async -> EdgeResponse) async -> (fetched: Fetched, leader: Bool) {
        let (fetched, leader) = await self.coalescer.value(for: key) {
            let ticket = self.cache.ticket()
            return Fetched(response: await fetch(), ticket: ticket)
        }
        return (fetched, leader)
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
