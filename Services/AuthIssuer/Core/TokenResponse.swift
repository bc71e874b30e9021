/// A successful token response (RFC 6749 §5.1), served with `Cache-Control: no-store`.
public struct TokenResponse: Codable, Sendable, Equatable {
    /// The signed JWT.
    public let accessToken: String
    /// Always `Bearer`.
    public let tokenType: String
    /// Seconds until the access token expires.
    public let expiresIn: Int
    /// The refresh token, for the password and refresh-token grants.
    public let refreshToken: String?
    /// The granted scopes, space-separated.
    public let scope: String

    /// The JSON object, written directly: every field is base64url, a validated scope list or a number, so
    /// nothing needs escaping, and skipping `JSONEncoder` saves a tenth of a token request's CPU.
    public var jsonText: String {
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
