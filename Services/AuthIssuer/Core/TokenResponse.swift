/// A successful token response (RFC 6749 §5.1), served with `Cache-Control: no-store`.
package struct TokenResponse: Codable, Sendable, Equatable {
    /// The signed JWT.
    package let accessToken: String
    /// Always `Bearer`.
    package let tokenType: String
    /// Seconds until the access token expires.
    package let expiresIn: Int
    /// The refresh token, for the password and refresh-token grants.
    package let refreshToken: String?
    /// The granted scopes, space-separated.
    package let scope: String

    /// The JSON object, written directly: every field is base64url, a validated scope list or a number, so
    /// nothing needs escaping, and skipping `JSONEncoder` saves a tenth of a token request's CPU.
    package var jsonText: String {
        var text = #"{"access_token":""# + self.accessToken + #"","expires_in":"# + String(self.expiresIn)
        if let refreshToken = self.refreshToken { text += #","refresh_token":""# + refreshToken + "\"" }
        return text + #","scope":""# + self.scope + #"","token_type":""# + self.tokenType + "\"}"
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case scope
    }
}
