import Foundation

/// The client authentication a request carries (RFC 6749 §2.3.1): HTTP Basic with the form-encoded client id
/// and secret, or `client_id` and `client_secret` in the body; never both.
package struct ClientCredentials: Sendable, Equatable {
    /// The client id.
    package let id: String
    /// The client secret; `nil` for a public client that only names itself.
    package let secret: String?

    /// Creates credentials.
    package init(id: String, secret: String?) {
        self.id = id
        self.secret = secret
    }

    /// Reads the credentials of a request.
    /// - Parameters:
    ///   - authorization: The `Authorization` header, if any.
    ///   - parameters: The body parameters.
    /// - Returns: `nil` when the request carries none.
    /// - Throws: ``OAuthError`` `invalid_request` when both methods are used, `invalid_client` when the
    ///   header is not valid Basic credentials.
    package static func from(authorization: String?, parameters: OAuthParameters) throws(OAuthError) -> ClientCredentials? {
        let bodyID = parameters["client_id"]
        let bodySecret = parameters["client_secret"]
        guard let authorization else {
            guard let bodyID else {
                if bodySecret != nil { throw OAuthError(.invalidRequest, "'client_secret' is given without 'client_id'") }
                return nil
            }
            return ClientCredentials(id: bodyID, secret: bodySecret)
        }
        guard bodySecret == nil else {
            throw OAuthError(.invalidRequest, "use either HTTP Basic authentication or 'client_secret' in the body, not both")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8),
            let colon = text.firstIndex(of: ":"),
            let id = Self.formDecoded(text[..<colon]), let secret = Self.formDecoded(text[text.index(after: colon)...]),
            !id.isEmpty
        else {
            throw OAuthError(.invalidClient, "the Authorization header is not valid HTTP Basic client credentials")
        }
        if let bodyID, bodyID != id {
            throw OAuthError(.invalidRequest, "'client_id' in the body differs from the HTTP Basic client id")
        }
        return ClientCredentials(id: id, secret: secret)
    }

    /// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
    private static func formDecoded(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
