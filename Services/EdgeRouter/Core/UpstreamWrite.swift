/// What an upstream did with an unsafe request (``EdgeUpstream/write(_:route:caller:parameters:preconditions:)``).
struct UpstreamWrite: Sendable {
    /// The answer; failures are problems.
    var response: EdgeResponse
    /// The cache tags whose entries the write changed (empty when it changed nothing): the gateway drops this
    /// edge's entries of them before the answer leaves, so the client reads its own write at once.
    var invalidates: [CacheTag]
}
