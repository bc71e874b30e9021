/// Why a bearer token was refused: the `error_description` of the 401 (RFC 6750 §3) and the `reason` label
/// of `gatehouse_edge_auth_failures_total`.
package enum TokenRejection: String, Error, Sendable, CaseIterable {
    /// Not three base64url parts, too large, or a header that is not the expected JSON (including a `crit`
    /// that is not a non-empty array of names).
    case malformed
    /// The header's `typ` is not `at+jwt` (an ID token or another JWT presented as an access token).
    case wrongType = "wrong_type"
    /// The header's `crit` names extensions that must be understood, and this verifier understands none
    /// (RFC 7515 §4.1.11).
    case unsupportedCriticalHeader = "unsupported_critical_header"
    /// No published key has the header's `kid`.
    case unknownKey = "unknown_key"
    /// The header's `alg` is not the algorithm of the key it names (`none`, or HS256 with a public key).
    case algorithmMismatch = "algorithm_mismatch"
    /// The signature does not verify.
    case badSignature = "bad_signature"
    /// `exp` has passed (beyond the leeway).
    case expired
    /// `nbf` is in the future (beyond the leeway).
    case notYetValid = "not_yet_valid"
    /// `iss` is not this deployment's issuer.
    case wrongIssuer = "wrong_issuer"
    /// `aud` does not name this deployment.
    case wrongAudience = "wrong_audience"
    /// The issuer revoked it (its `jti`, or every token of its subject issued before some time).
    case revoked

    /// The sentence for `error_description`.
    package var message: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .wrongType: "the token is not an access token (typ must be at+jwt)"
        case .unsupportedCriticalHeader: "the token's header names critical extensions (crit) this server does not understand"
        case .unknownKey: "the token is signed with an unknown key"
        case .algorithmMismatch: "the token's algorithm does not match its key"
        case .badSignature: "the token's signature is invalid"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .wrongIssuer: "the token was issued by another issuer"
        case .wrongAudience: "the token is for another audience"
        case .revoked: "the token has been revoked"
        }
    }
}
