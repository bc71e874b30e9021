/// A part of the request that identifies whose counter a policy charges.
///
/// A policy's key is a combination of parts, e.g. `[sub, route]`: one counter per subject and route.
public enum PolicyKeyPart: String, Sendable, Hashable, CaseIterable {
    /// The client's IP address (from the socket, or `X-Forwarded-For` behind a trusted proxy).
    case ip
    /// The JWT subject.
    case sub
    /// The OAuth client id of the token.
    case clientID = "client_id"
    /// The caller's role (its first role, for tokens with several).
    case role
    /// The API-key header's value (hashed before it becomes part of a Redis key).
    case apiKey = "api_key"
    /// The matched route template, e.g. `/v1/{collection}/{id}`.
    case route
    /// The HTTP method.
    case method
}
