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
    /// Answered at once, without the cache or the upstream (a malformed query is `400`).
    case answered(EdgeResponse)
}
