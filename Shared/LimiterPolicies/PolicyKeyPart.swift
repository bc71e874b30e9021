/// A part of the request that identifies whose counter a policy charges.
///
/// A policy's key is a combination of parts, e.g. `[sub, route]`: one counter per subject and route. The
/// edge router builds the key's value with ``PolicyKeyValues``; what each part is, and what stands in for a
/// part a request lacks, is said there.
public enum PolicyKeyPart: String, Sendable, Hashable, CaseIterable {
    /// The client's address (the TCP peer, or from `X-Forwarded-For` behind a trusted proxy), for every
    /// caller, with a token or without.
    case ip
    /// The token's subject (`sub`).
    case sub
    /// The OAuth client the token was issued to (its `client_id` claim).
    case clientID = "client_id"
    /// The tier that chose the request's policies: the caller's role that the route file's tiers matched
    /// first, or `authenticated`, or `anonymous`. One counter per tier, shared by every caller in it.
    case role
    /// A hash of the API key: the value of the request header named by the edge's `policies.api_key_header`
    /// (SHA-256, its first 16 bytes in hex); the key itself never reaches the limiter or Redis.
    case apiKey = "api_key"
    /// The matched route's template, e.g. `/v1/{collection}/{id}`: one counter per route, not per path.
    case route
    /// The HTTP method, `HEAD` counted as `GET` (it is served as one).
    case method
}
