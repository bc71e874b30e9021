import GatehouseAuthAPI
import JWTKit

/// Who is calling, as the gateway authenticated it: the claims of a verified bearer token, or none for an
/// anonymous caller. The gateway's steps decide on it, and an upstream receives it with the request.
struct EdgeCaller: Sendable {
    /// The verified token's claims; `nil` for an anonymous caller.
    var claims: AccessTokenClaims?
    /// The token's subject (`sub`).
    var subject: String? { self.claims?.sub.value }
    /// The token's roles; `nil` for an anonymous caller.
    var roles: [String]? { self.claims?.roles }
}
