/// Whether the edge, a shared cache, may keep an HTTP upstream's answer, and how long it stays fresh
/// (RFC 9111 §3, §3.5, §4.2; RFC 5861), with the route's `cache:` as the default and the ceiling: an answer
/// without a lifetime of its own is kept for the route's `ttl`, and no answer is kept longer than that, nor
/// served stale longer than the route's `stale_while_revalidate` and `stale_if_error`.
///
/// Not stored: methods other than `GET`; statuses outside the heuristically cacheable ones (RFC 9110
/// §15.1, `206` excepted: the edge does not combine ranges); `no-store` in the request or the answer;
/// `private`; `no-cache` without a validator (`ETag` or `Last-Modified`: such an answer could never be
/// confirmed); `Vary: *`; an answer that sets a cookie (it would hand one client's cookie to others); and, for a request with `Authorization`, any answer
/// unless the route says `scope: public` explicitly or the answer says `public`, `s-maxage` or
/// `must-revalidate` (RFC 9111 §3.5).
///
/// An answer with `no-cache` and a validator is stored stale at once, without `stale-while-revalidate` or
/// `stale-if-error`: the gateway revalidates it with the upstream before each use (§5.2.2.4).
struct UpstreamCachePolicy: Sendable, Equatable {
    /// What the policy decided for one answer.
    enum Decision: Sendable, Equatable {
        /// Keep it with this freshness; `vary` names the request fields (lower-case) whose values must
        /// match for a later request to be served this answer (RFC 9111 §4.1).
        case store(ResponseCache.Freshness, vary: [String])
        /// Do not keep it, for the reason given (for logs and the `X-Cache` detail).
        case doNotStore(String)
    }

    /// Statuses a cache may store without explicit freshness (RFC 9110 §15.1), `206` excepted.
    static let cacheableStatuses: Set<Int> = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]

    /// The route's freshness: the default and the ceiling.
    var route: ResponseCache.Freshness
    /// Whether the route says `scope: public` explicitly, which shares answers to requests with `Authorization`.
    var sharesAuthorizedAnswers: Bool

    /// Decides for one answer.
    /// - Parameters:
    ///   - method: The request's method, upper-case.
    ///   - requestHeaders: The request's fields, names lower-case.
    ///   - status: The answer's status.
    ///   - responseHeaders: The answer's fields.
    ///   - now: The time the answer arrived, in seconds since the Unix epoch (for `Date`, `Expires`).
    func decide(
        method: String,
        requestHeaders: RequestFields,
        status: Int,
        responseHeaders: [(name: String, value: String)],
        now: Int64
    ) -> Decision {
        guard method == "GET" else { return .doNotStore("method \(method)") }
        guard Self.cacheableStatuses.contains(status) else { return .doNotStore("status \(status)") }
        if CacheControl(requestHeaders["cache-control"]).noStore { return .doNotStore("the request says no-store") }
        // The answer's fields by lower-case name, repeated ones joined (RFC 9110 §5.3), read in one pass.
        var fields: [String: String] = [:]
        fields.reserveCapacity(responseHeaders.count)
        for (name, value) in responseHeaders {
            let name = name.lowercased()
            fields[name] = fields[name].map { $0 + ", " + value } ?? value
        }
        let field = { (name: String) -> String? in fields[name] }
        let directives = CacheControl(field("cache-control"))
        if directives.noStore { return .doNotStore("no-store") }
        if directives.isPrivate { return .doNotStore("private") }
        if directives.noCache, field("etag") == nil, field("last-modified") == nil { return .doNotStore("no-cache without a validator") }
        if field("set-cookie") != nil { return .doNotStore("the answer sets a cookie") }
        let vary = (field("vary") ?? "").split(separator: ",").map { $0.trimmingASCIISpaces().lowercased() }.filter { !$0.isEmpty }
        if vary.contains("*") { return .doNotStore("Vary: *") }
        if requestHeaders["authorization"] != nil, !self.sharesAuthorizedAnswers, !directives.isPublic,
            directives.sharedMaxAge == nil, !directives.mustRevalidate
        {
            return .doNotStore("the request has Authorization and neither the route nor the answer makes it shareable")
        }

        // Freshness lifetime (RFC 9111 §4.2.1): s-maxage, max-age, Expires − Date, else the route's.
        let date = field("date").flatMap(HTTPDate.seconds)
        var lifetime = self.route.ttl
        if let given = directives.sharedMaxAge ?? directives.maxAge {
            lifetime = min(given, self.route.ttl)
        } else if let expires = field("expires") {
            let expiresAt = HTTPDate.seconds(expires) ?? 0
            lifetime = min(.seconds(max(0, expiresAt - (date ?? now))), self.route.ttl)
        }
        // Its age on arrival (RFC 9111 §4.2.3): the larger of `Age` and how old `Date` says it is.
        let ageField = field("age").flatMap { Int64(Substring($0).trimmingASCIISpaces()) }.map { max(0, $0) } ?? 0
        let apparentAge = date.map { max(0, now - $0) } ?? 0
        let ttl = max(.zero, lifetime - .seconds(max(ageField, apparentAge)))

        if directives.noCache { return .store(ResponseCache.Freshness(ttl: .zero), vary: vary) }
        let mayServeStale = !directives.mustRevalidate
        let capped = { (given: Duration?, ceiling: Duration) -> Duration in
            guard mayServeStale else { return .zero }
            return given.map { min($0, ceiling) } ?? ceiling
        }
        let freshness = ResponseCache.Freshness(
            ttl: ttl,
            staleWhileRevalidate: capped(directives.staleWhileRevalidate, self.route.staleWhileRevalidate),
            staleIfError: capped(directives.staleIfError, self.route.staleIfError)
        )
        return .store(freshness, vary: vary)
    }
}
