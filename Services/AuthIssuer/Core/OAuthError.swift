/// An error answer of the token or revocation endpoint, exactly as RFC 6749 §5.2 defines it: a JSON object
/// with `error` and `error_description`, and the status code that goes with the error.
package struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The RFC 6749 error codes used here, plus `slow_down` (RFC 8628) for throttled logins.
    package enum Code: String, Sendable {
        /// A parameter is missing, repeated, malformed, or the request is otherwise not understood.
        case invalidRequest = "invalid_request"
        /// Client authentication failed: unknown client, wrong secret, or none where one is needed.
        case invalidClient = "invalid_client"
        /// The username and password, or the refresh token, are not valid.
        case invalidGrant = "invalid_grant"
        /// The client may not use this grant or revoke this token.
        case unauthorizedClient = "unauthorized_client"
        /// The `grant_type` is not one the issuer supports.
        case unsupportedGrantType = "unsupported_grant_type"
        /// The requested scope is malformed or exceeds what the caller may have.
        case invalidScope = "invalid_scope"
        /// Over a limiter policy: too many logins for this username or client address, refreshes for this
        /// user, or revocations from this client or address.
        case slowDown = "slow_down"
        /// The issuer cannot answer now (storage failure, or too many passwords being checked); retrying later may work.
        case temporarilyUnavailable = "temporarily_unavailable"
    }

    /// The error code.
    package let code: Code
    /// A sentence for the developer of the client.
    package let message: String
    /// Seconds until the request may be tried again (`Retry-After`): a throttled request, or a full password hashing queue.
    package let retryAfterSeconds: Int?

    /// Creates an error.
    package init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The HTTP status RFC 6749 §5.2 assigns: 401 for `invalid_client`, 429 for `slow_down`, 503 for
    /// `temporarily_unavailable`, 400 otherwise.
    package var status: Int {
        switch self.code {
        case .invalidClient: 401
        case .slowDown: 429
        case .temporarilyUnavailable: 503
        default: 400
        }
    }

    /// `error: error_description`.
    package var description: String {
        "\(self.code.rawValue): \(self.message)"
    }
}
