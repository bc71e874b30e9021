/// An upstream's plan for a safe request (``EdgeUpstream/read(_:route:caller:parameters:)``), made before
/// the gateway looks in its cache.
enum UpstreamRead: Sendable {
    /// A read the gateway serves from its cache when the route caches, else fetches. Concurrent misses for one
    /// cache key share one fetch; the key includes the caller's subject when the route caches per user, or
    /// when the answer is `personal`.
    /// - Parameters:
    ///   - tags: What the answer depends on: an invalidation of any of them drops its cache entry.
    ///   - personal: Whether the answer depends on who asks (a listing of the caller's own documents).
    ///   - fetch: Asks the upstream; its failures are problem answers (`5xx` lets a stale entry be served).
    case fetch(tags: [CacheTag], personal: Bool, fetch: @Sendable () async -> EdgeResponse)
    /// A read of an HTTP upstream, whose answer says itself whether and how long the cache may keep it.
    case negotiated(NegotiatedRead)
    /// Answered at once, without the cache or the upstream (a malformed query is `400`).
    case answered(EdgeResponse)
}

/// A read whose answer decides its own storability and freshness (RFC 9111, ``UpstreamCachePolicy``), with
/// the route's `cache:` as the default and the ceiling.
struct NegotiatedRead: Sendable {
    /// What the answer depends on, as for ``UpstreamRead/fetch(tags:personal:fetch:)``.
    var tags: [CacheTag]
    /// The request fields (lower-case) the route's answers were last seen to vary on (`Vary`), whose values
    /// are part of the cache key; `nil` until an answer was stored: such a read is not shared with
    /// concurrent ones, since what its answer varies on is not known before it arrives.
    var vary: [String]?
    /// Asks the upstream, with these conditional fields (`If-None-Match`, `If-Modified-Since`) when it
    /// revalidates a stale entry, none otherwise; its failures are problem answers (`502`, `504`).
    var fetch: @Sendable (_ conditions: [(name: String, value: String)]) async -> EdgeResponse
    /// Whether and how long an answer may be kept, and the fields it varies on.
    var decide: @Sendable (EdgeResponse) -> UpstreamCachePolicy.Decision
}
