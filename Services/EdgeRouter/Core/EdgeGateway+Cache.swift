import Metrics

/// The gateway's cache step: a read is served from the ``ResponseCache`` when its route caches (fresh, or
/// stale within the route's `stale-while-revalidate`/`stale-if-error` windows), else fetched from the
/// upstream once for all concurrent identical misses (``RequestCoalescer``) and stored when it is a `200`
/// read after no invalidation of its tags (the fill ticket, taken just before the upstream is asked).
///
/// An HTTP upstream's stale entry with validators is revalidated with a conditional `GET` (`If-None-Match`,
/// `If-Modified-Since`) rather than fetched again, in the request's path or, within its
/// `stale-while-revalidate` window, in the background: a `304` refreshes it in place (its fields updated,
/// its freshness decided anew from the `304`'s) and its body is served; any other answer is handled as a
/// fetched one (a `200` replaces it, a `5xx` lets `stale-if-error` serve it).
extension EdgeGateway {
    /// An upstream's answer, and whether the flight stored it (by the fill ticket taken just before the
    /// upstream was asked: an answer is refused when its tags were invalidated after the read began).
    struct Fetched: Sendable {
        var response: EdgeResponse
        var stored = false
        /// The upstream's status: `304` when it confirmed a stale entry, whose refreshed answer is `response`.
        var upstreamStatus: Int
        /// Whether callers that joined the flight may be given it (an answer no cache may keep may not).
        var shareable = true
    }

    /// Who decides whether an answer is kept, and for how long.
    enum Storage: Sendable {
        /// A `200` answer is kept for the route's freshness (the data service).
        case route
        /// The answer decides (an HTTP upstream, ``NegotiatedRead``); `vary` names the request fields in the key,
        /// `nil` when not known yet; `revalidate` asks the upstream with a stale entry's conditional fields.
        case negotiated(
            vary: [String]?, decide: @Sendable (EdgeResponse) -> UpstreamCachePolicy.Decision,
            revalidate: @Sendable ([(name: String, value: String)]) async -> EdgeResponse
        )
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
        var key = Self.cacheKey(request, caching: caching, caller: caller, personal: personal)
        if case .negotiated(let vary?, _, _) = storage {
            // The varying fields' values (RFC 9111 §4.1); a control character cannot occur in a path or a field.
            for name in vary { key += "\u{1F}\(name)=\(request.header(name) ?? "")" }
        }
        return Self.keptPrivate(await self.lookupOrFill(key: key, caching: caching, tags: tags, storage: storage, fetch: fetch), caching: caching)
    }

    /// The key of a read on a caching route: the caller's subject is part of it for `scope: user` and for a
    /// personal read.
    static func cacheKey(_ request: EdgeRequest, caching: EdgeRoute.Caching, caller: EdgeCaller, personal: Bool) -> String {
        CacheKey.make(method: "GET", path: request.path, query: request.query, subject: caching.scope == .user || personal ? caller.subject : nil)
    }

    /// A personal answer (`scope: user`) must not be kept by a shared cache between this edge and the client:
    /// it says `Cache-Control: private` (problems already say `no-store`).
    static func keptPrivate(_ response: consuming EdgeResponse, caching: EdgeRoute.Caching) -> EdgeResponse {
        guard caching.scope == .user, response.status < 400 else { return response }
        response.headers.append(("Cache-Control", "private"))
        return response
    }

    private func lookupOrFill(
        key: String, caching: EdgeRoute.Caching, tags: [CacheTag], storage: Storage, fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> EdgeResponse {
        switch self.cache.lookup(key) {
        case .fresh(let cached, let age):
            return Self.freshHit(cached, age: age, caching: caching, storage: storage)
        case .stale(let cached, let age, let revalidate, let ifError):
            EdgeMetrics.cacheStaleHits.increment()
            if revalidate {
                // Serve stale now; one coalesced request refreshes the entry.
                Task { await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, revalidating: cached, fetch: fetch) }
                guard case .route = storage else { return Self.respond(cached, status: #"gatehouse; hit; detail="stale-while-revalidate""#, age: age) }
                return Self.respond(cached, status: #"gatehouse; hit; ttl=\#(-(age - caching.freshness.ttl).components.seconds); detail="stale-while-revalidate""#, age: age)
            }
            let fetched = await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, revalidating: cached, fetch: fetch)
            if fetched.response.status >= 500, ifError {
                return Self.respond(cached, status: #"gatehouse; hit; detail="stale-if-error""#, age: age)
            }
            return Self.withCacheStatus(fetched.response, "gatehouse; fwd=stale; fwd-status=\(fetched.upstreamStatus)" + (fetched.stored ? "; stored" : ""))
        case .miss:
            EdgeMetrics.cacheMisses.increment()
            let fetched = await self.fill(key: key, tags: tags, freshness: caching.freshness, storage: storage, fetch: fetch)
            return Self.withCacheStatus(fetched.response, fetched.stored ? "gatehouse; fwd=uri-miss; stored" : "gatehouse; fwd=uri-miss")
        }
    }

    /// Fetches and stores what `storage` lets be kept (for the data service: a 200 read), unless one of its
    /// tags was invalidated meanwhile; returns whether it stored. The store happens inside the coalesced
    /// flight, before the flight ends: a request that misses just after it finds the entry instead of
    /// starting another fetch. An HTTP upstream's entry `revalidating` with validators is asked about with
    /// a conditional request instead.
    @discardableResult
    private func fill(
        key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, storage: Storage, revalidating: CachedResponse? = nil,
        fetch: @escaping @Sendable () async -> EdgeResponse
    ) async -> Fetched {
        switch storage {
        case .route:
            return await self.coalescer.value(for: key) {
                let ticket = self.cache.ticket()
                let response = await fetch()
                let entry = CachedResponse(
                    status: response.status, body: response.body, etag: response.header("ETag"), contentType: response.header("Content-Type") ?? "application/json"
                )
                let stored = response.status == 200 && self.store(entry, key: key, tags: tags, freshness: freshness, ticket: ticket)
                return Fetched(response: response, stored: stored, upstreamStatus: response.status)
            }.value
        case .negotiated(let vary, let decide, let revalidate):
            let conditions = revalidating?.conditionalFields ?? []
            let flight = { @Sendable () async -> Fetched in
                let ticket = self.cache.ticket()
                guard let revalidating, !conditions.isEmpty else {
                    return self.kept(await fetch(), key: key, tags: tags, vary: vary, decide: decide, ticket: ticket)
                }
                let answer = await revalidate(conditions)
                guard answer.status == 304 else { return self.kept(answer, key: key, tags: tags, vary: vary, decide: decide, ticket: ticket) }
                EdgeMetrics.cacheRevalidations.increment()
                // Confirmed: the stored answer with the 304's fields, fresh for what they now say.
                let refreshed = revalidating.refreshed(by: answer.headers)
                var fields = refreshed.replayedFields
                let served = EdgeResponse(status: refreshed.status, headers: fields + [("Age", "0")], body: refreshed.body)
                fields += answer.headers.filter { ["date", "age"].contains($0.name.lowercased()) }
                // A 304 that now says the answer may not be kept (`private`, `no-store`) is the asker's alone.
                guard case .store(let decided, let answerVary) = decide(EdgeResponse(status: refreshed.status, headers: fields)) else {
                    return Fetched(response: served, upstreamStatus: 304, shareable: false)
                }
                guard answerVary == (vary ?? []) else { return Fetched(response: served, upstreamStatus: 304) }
                let outcome = self.cache.refresh(revalidating, with: refreshed, for: key, tags: tags, freshness: decided, ticket: ticket)
                self.recordCacheSize()
                return Fetched(response: served, stored: outcome == .stored, upstreamStatus: 304)
            }
            // Shared with concurrent reads only once the fields the answers vary on are known.
            guard vary != nil else { return await flight() }
            let (fetched, leader) = await self.coalescer.value(for: key, fetch: flight)
            // An answer no cache may keep is for the one who asked it: the others ask for theirs.
            guard fetched.shareable || leader else {
                let response = await fetch()
                return Fetched(response: response, upstreamStatus: response.status)
            }
            return fetched
        }
    }

    /// An HTTP upstream's full answer, stored when the policy lets it be kept (with a lifetime or a window,
    /// or validators to revalidate it with) and it varies on the fields the key was made of.
    private func kept(
        _ response: EdgeResponse, key: String, tags: [CacheTag], vary: [String]?, decide: @Sendable (EdgeResponse) -> UpstreamCachePolicy.Decision,
        ticket: ResponseCache.FillTicket
    ) -> Fetched {
        // A streamed answer (longer than the route's bound) is neither kept nor shared.
        guard response.bodyStream == nil, case .store(let decided, let answerVary) = decide(response) else {
            return Fetched(response: response, upstreamStatus: response.status, shareable: false)
        }
        let entry = CachedResponse(status: response.status, body: response.body, upstreamFields: response.headers)
        guard answerVary == (vary ?? []),
            decided.ttl > .zero || decided.staleIfError > .zero || decided.staleWhileRevalidate > .zero || !entry.conditionalFields.isEmpty
        else {
            return Fetched(response: response, upstreamStatus: response.status)
        }
        return Fetched(response: response, stored: self.store(entry, key: key, tags: tags, freshness: decided, ticket: ticket), upstreamStatus: response.status)
    }

    /// Stores an entry for `freshness`, unless one of its tags was invalidated after `ticket` was taken.
    private func store(_ cached: CachedResponse, key: String, tags: [CacheTag], freshness: ResponseCache.Freshness, ticket: ResponseCache.FillTicket) -> Bool {
        let outcome = self.cache.store(cached, for: key, tags: tags, freshness: freshness, ticket: ticket)
        self.recordCacheSize()
        return outcome == .stored
    }

    private func recordCacheSize() {
        let statistics = self.cache.statistics
        EdgeMetrics.cacheBytes.record(statistics.bytes)
        EdgeMetrics.cacheEntries.record(statistics.entries)
    }

    /// The upstream's answer for `key` on a route that does not cache: from the fetch in flight for it, or from a new one.
    private func fetched(key: String, _ fetch: @escaping @Sendable () async -> EdgeResponse) async -> Fetched {
        await self.coalescer.value(for: key) {
            let response = await fetch()
            return Fetched(response: response, upstreamStatus: response.status)
        }.value
    }

    /// The answer from a fresh entry, counted as a hit; a route's own freshness (`storage` `.route`) is told as
    /// its `ttl`.
    static func freshHit(_ cached: CachedResponse, age: Duration, caching: EdgeRoute.Caching, storage: Storage) -> EdgeResponse {
        EdgeMetrics.cacheHits.increment()
        guard case .route = storage else { return Self.respond(cached, status: "gatehouse; hit", age: age) }
        let ttl = (caching.freshness.ttl - age).components.seconds
        return Self.respond(cached, status: "gatehouse; hit; ttl=" + String(ttl), age: age)
    }

    static func respond(_ cached: CachedResponse, status: String, age: Duration) -> EdgeResponse {
        var headers = cached.replayedFields
        headers.append(("Age", String(age.components.seconds)))
        headers.append(("Cache-Status", status))
        return EdgeResponse(status: cached.status, headers: headers, body: cached.body)
    }

    static func withCacheStatus(_ response: EdgeResponse, _ status: String) -> EdgeResponse {
        var response = response
        response.headers.append(("Cache-Status", status))
        return response
    }
}
