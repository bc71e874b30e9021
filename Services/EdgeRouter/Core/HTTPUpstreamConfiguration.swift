/// A route's `upstream:`: the HTTP API that answers the route's requests instead of the data service
/// (docs/configuration.md, "Edge route file"). Read and checked at load; the gateway keeps one
/// ``HTTPUpstreamRoute`` (its connections and its addresses' health) per distinct configuration.
struct HTTPUpstreamConfiguration: Sendable, Hashable {
    /// The header fields that carry the verified caller's identity to the upstream.
    struct IdentityHeaders: Sendable, Hashable {
        /// The token's subject (`sub`).
        var subject: String
        /// The token's roles, comma-separated.
        var roles: String
        /// The token's scopes, space-separated as in the token.
        var scopes: String

        /// The names every route uses unless it names others.
        static let standard = IdentityHeaders(subject: "X-Gatehouse-Sub", roles: "X-Gatehouse-Roles", scopes: "X-Gatehouse-Scopes")
    }

    /// The addresses, in the route file's order (round robin over the healthy ones).
    var addresses: [UpstreamAddress]
    /// The leading path the edge replaces before forwarding (`from`, a prefix of the route's path) and what
    /// it puts in its place (`to`); `nil`: the path is forwarded as the client sent it.
    var pathPrefixRewrite: (from: String, to: String)?
    /// The time limits of one forwarded request.
    var timeouts: HTTPUpstream.Timeouts
    /// The longest answer body read whole (and so the longest that may be cached); a longer one is streamed
    /// to the client as it arrives (``BodyStream``).
    var maximumBodyBytes: Int
    /// Where the verified identity goes.
    var identityHeaders: IdentityHeaders
    /// Whether the route says `cache.scope: public` in so many words, which lets answers to requests with
    /// `Authorization` be shared (RFC 9111 §3.5).
    var sharesAuthorizedAnswers: Bool
    /// The active health check of the addresses (`health_check:`); `nil`: passive ejection only.
    var healthCheck: UpstreamHealthCheck? = nil

    /// Consecutive failures of an address that eject it.
    static let ejectAfter = 5
    /// How long an ejected address gets no requests.
    static let ejection = Duration.seconds(30)

    /// The request target for the upstream: the path with the rewrite applied, and the query.
    func target(path: String, query: String?) -> String {
        var forwarded = path
        if let rewrite = self.pathPrefixRewrite, path.hasPrefix(rewrite.from) {
            let rest = path.dropFirst(rewrite.from.count)
            forwarded = rewrite.to.hasSuffix("/") && rest.hasPrefix("/") ? rewrite.to + rest.dropFirst() : rewrite.to + rest
            if forwarded.isEmpty { forwarded = "/" }
        }
        guard let query, !query.isEmpty else { return forwarded }
        return forwarded + "?" + query
    }

    static func == (lhs: HTTPUpstreamConfiguration, rhs: HTTPUpstreamConfiguration) -> Bool {
        lhs.addresses == rhs.addresses && lhs.pathPrefixRewrite?.from == rhs.pathPrefixRewrite?.from
            && lhs.pathPrefixRewrite?.to == rhs.pathPrefixRewrite?.to && lhs.timeouts == rhs.timeouts
            && lhs.maximumBodyBytes == rhs.maximumBodyBytes && lhs.identityHeaders == rhs.identityHeaders
            && lhs.sharesAuthorizedAnswers == rhs.sharesAuthorizedAnswers
            && lhs.healthCheck == rhs.healthCheck
    }

    /// Hashes the addresses alone: equal configurations have equal addresses, `==` tells apart those that
    /// differ elsewhere, and the upstream of a route is looked up by its configuration on every request
    /// (``HTTPUpstreamRoutes``).
    func hash(into hasher: inout Hasher) {
        hasher.combine(self.addresses)
    }
}
