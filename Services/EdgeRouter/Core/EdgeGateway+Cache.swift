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
    }

    /// Serves a read from the cache when the route caches, else fetches; fills the cache with what was fetched.
    func cached(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, tags: [CacheTag], personal: Bool,
        fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> EdgeResponse {
        guard let caching = route.caching else {
            let key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: personal ? caller.subject : nil)
            return await self.fetched(key: key, fetch).response
        }
        if caching.scope == .user, caller.subject == nil {
            return .problem(401, "Unauthorized", "this route's answers are personal: it needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)])
        }
        let key = CacheKey.make(method: "GET", path: request.path, query: request.query, subject: caching.scope == .user || personal ? caller.subject : nil)
        var response = await self.lookupOrFill(key: key, caching: caching, tags: tags, fetch: fetch)
        // A personal answer must not be kept by a shared cache between this edge and the client.
        // (Problems already say `no-store`.)
        if caching.scope == .user, response.status < 400 { response.headers.append(("Cache-Control", "private")) }
        return response
    }

    private func lookupOrFill(
        key: String, caching: EdgeRoute.Caching, tags: [CacheTag], fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> EdgeResponse {
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

    /// Fetches and, for a 200 read after no invalidation of its tags, stores; returns whether it stored. The
    /// store happens inside the coalesced flight, before the flight ends: a request that misses just after
    /// it finds the entry instead of starting another fetch.
    @discardableResult
    private func fill(
        key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> (response: EdgeResponse, stored: Bool) {
        let fetched = await self.coalescer.value(for: key) {
            let ticket = self.cache.ticket()
            let response = await fetch()
            return Fetched(response: response, stored: self.store(response, key: key, tags: tags, freshness: freshness, ticket: ticket))
        }.value
        return (fetched.response, fetched.stored)
    }

    /// Stores a 200 read, unless one of its tags was invalidated after `ticket` was taken.
    private func store(_ response: EdgeResponse, key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, ticket: ResponseCache.FillTicket) -> Bool {
        guard response.status == 200 else { return false }
        let cached = CachedResponse(status: 200, body: response.body, etag: response.header("ETag"), contentType: response.header("Content-Type") ?? "application/json")
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
