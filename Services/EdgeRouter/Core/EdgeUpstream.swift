/// What answers the requests the gateway (``EdgeGateway``) lets through. The gateway authenticates,
/// authorizes, limits and caches without knowing who answers; an upstream answers without knowing tokens,
/// limits or the cache. Two kinds: the data service (``DataServiceUpstream``), and an HTTP API
/// (``HTTPUpstreamRoute``) on routes with `upstream:`.
///
/// Both sides of the seam get the request, the verified caller, the matched route and the path's
/// parameters. A safe request (`GET`, `HEAD`) is a read: the upstream says what its answer depends on and
/// how to fetch it (``UpstreamRead``), and the gateway serves it from the cache or fetches, once for all
/// concurrent identical misses, then applies the request's preconditions to the answer. Any other method is
/// a write: the upstream performs it under the request's preconditions and names the cache tags it changed
/// (``UpstreamWrite``), which the gateway drops from its cache before the answer leaves.
protocol EdgeUpstream: Sendable {
    /// Plans a safe request (`GET`, `HEAD`) before the cache is looked in; no call to the backend yet.
    /// - Parameters:
    ///   - request: The request.
    ///   - route: The route it matched.
    ///   - caller: The authenticated caller.
    ///   - parameters: The route template's parameters, by name.
    /// - Returns: The read to serve from the cache or fetch, or an answer given at once (a malformed query).
    func read(_ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters) -> UpstreamRead

    /// Performs an unsafe request (any method but `GET` and `HEAD`).
    /// - Parameters:
    ///   - request: The request.
    ///   - route: The route it matched.
    ///   - caller: The authenticated caller.
    ///   - parameters: The route template's parameters, by name.
    ///   - preconditions: The request's `If-Match`/`If-None-Match`, for the upstream to decide on.
    /// - Returns: The answer (failures as problems) and the cache tags the write changed.
    func write(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters, preconditions: RequestPreconditions
    ) async -> UpstreamWrite
}
