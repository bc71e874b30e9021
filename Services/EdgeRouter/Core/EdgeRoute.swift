/// One route of the edge router's route file: which requests it matches and how they are treated. A class,
/// immutable once read: every request that matches a route hands it on, and a reference costs one retain
/// where a copy of every field cost one each.
package final class EdgeRoute: Sendable, Equatable {
    /// Whether a bearer token is needed.
    package enum Authentication: String, Sendable, CaseIterable {
        /// Never read; every caller is anonymous.
        case none
        /// Verified when present (a bad one is still a 401); callers without one are anonymous.
        case optional
        /// Needed: no token is a 401.
        case required
    }

    /// Who may share a cached response.
    package enum CacheScope: String, Sendable, CaseIterable {
        /// Every caller: the key is the request alone.
        case `public`
        /// One subject: the key includes the caller's `sub`, so no one else is ever served it.
        case user
    }

    /// How a route's responses are cached.
    package struct Caching: Sendable, Equatable {
        /// TTL and the RFC 5861 windows.
        package var freshness: ResponseCache.Freshness
        /// Who may share an entry.
        package var scope: CacheScope
    }

    /// One segment of a path template.
    package enum Segment: Sendable, Equatable {
        /// Must equal this text.
        case literal(String)
        /// Captures any one segment under this name (`{collection}`, `{id}`).
        case parameter(String)
    }

    /// The template as written, e.g. `/v1/{collection}/{id}`.
    package let path: String
    /// The template's segments.
    package let segments: [Segment]
    /// The methods it serves (`GET` also serves `HEAD`).
    package let methods: Set<String>
    /// Whether a token is needed.
    package let authentication: Authentication
    /// Roles of which the caller needs at least one (empty: none needed); missing is a 403.
    package let roles: [String]
    /// Scopes the caller needs all of (empty: none needed); missing is a 403.
    package let scopes: [String]
    /// On `PUT`/`DELETE` of one document: writes only to documents the caller owns, unless the caller has
    /// the `admin` role. On a `GET` listing: lists only the caller's own documents.
    package let ownerOnly: Bool
    /// Caching, for `GET` routes that have it.
    package let caching: Caching?
    /// Caller class (`anonymous`, `authenticated`, or a role) to the limiter policies checked for it.
    package let tiers: [(name: String, policies: [String])]
    /// Cross-origin calls from browsers, when the route allows them.
    package let cors: CORSPolicy?
    /// The HTTP API that answers this route's requests; `nil`: the data service answers them.
    let upstream: HTTPUpstreamConfiguration?
    /// The paths a `2xx` write through the route's `upstream:` drops on every edge (`upstream.invalidates`);
    /// `nil`: the written path and its parent.
    let invalidates: [PathTemplate]?

    /// A route with these settings.
    init(
        path: String, segments: [Segment], methods: Set<String>, authentication: Authentication, roles: [String], scopes: [String], ownerOnly: Bool,
        caching: Caching?, tiers: [(name: String, policies: [String])], cors: CORSPolicy?, upstream: HTTPUpstreamConfiguration?,
        invalidates: [PathTemplate]?
    ) {
        self.path = path
        self.segments = segments
        self.methods = methods
        self.authentication = authentication
        self.roles = roles
        self.scopes = scopes
        self.ownerOnly = ownerOnly
        self.caching = caching
        self.tiers = tiers
        self.cors = cors
        self.upstream = upstream
        self.invalidates = invalidates
    }

    package static func == (lhs: EdgeRoute, rhs: EdgeRoute) -> Bool {
        lhs.path == rhs.path && lhs.methods == rhs.methods && lhs.authentication == rhs.authentication && lhs.roles == rhs.roles
            && lhs.scopes == rhs.scopes && lhs.ownerOnly == rhs.ownerOnly && lhs.caching == rhs.caching
            && lhs.tiers.map(\.name) == rhs.tiers.map(\.name) && lhs.tiers.map(\.policies) == rhs.tiers.map(\.policies) && lhs.cors == rhs.cors
            && lhs.upstream == rhs.upstream && lhs.invalidates == rhs.invalidates
    }

    /// The tier of a caller, whose policies its requests are checked against and whose name is their `role`
    /// key part: the first tier, in file order, that is one of the caller's roles; else `authenticated` for a
    /// caller with a token, `anonymous` without one; `nil` when the route has no such tier (not rate-limited).
    /// - Parameter roles: The caller's roles, or `nil` for an anonymous caller.
    package func tier(forRoles roles: [String]?) -> (name: String, policies: [String])? {
        guard let roles else { return self.tiers.first { $0.name == "anonymous" } }
        if let tier = self.tiers.first(where: { roles.contains($0.name) }) { return tier }
        return self.tiers.first { $0.name == "authenticated" }
    }
}
