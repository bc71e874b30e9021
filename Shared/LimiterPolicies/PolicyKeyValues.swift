import Crypto

/// What one request offers a policy's key, and the key value it makes of a policy's parts: the value the
/// limiter names the counter by (`gh:<policy>:{<key value>}` in Redis), so requests share a counter exactly
/// when their key values are equal.
///
/// The key value is the policy's parts in the policy's order, joined by `|`, each part its value:
///
/// | part | value |
/// |---|---|
/// | `ip` | the client address: `203.0.113.7` |
/// | `sub` | the token's subject: `alice` |
/// | `client_id` | the token's `client_id`: `mobile-app` |
/// | `role` | the tier that chose the policies: `admin`, `authenticated`, `anonymous` |
/// | `api_key` | the API key's SHA-256, first 16 bytes in hex: `9f86d081884c7d659a2feaa0c55ad015` |
/// | `route` | the route template: `/v1/{collection}/{id}` |
/// | `method` | the method: `GET` |
///
/// so `[sub, route]` for alice is `alice|/v1/{collection}/{id}`.
///
/// **A part the request lacks** (`sub` without a token; `client_id` of a token that has none; `api_key`
/// without the header) is replaced by the caller's own identity, marked so that it never equals a real
/// value: `sub:<subject>` for a token holder, else `ip:<address>`. Such a counter is the caller's alone: it
/// never merges callers who lack the part into one shared counter. `role` is never missing at the edge,
/// and `route` and `method` never are: a caller that has none of these (the auth issuer) gets the identity too.
///
/// `%` and `|` in a value are written `%25` and `%7C`, and `:` in any part but `ip` `%3A`, so two different
/// requests never make the same key value by accident.
public struct PolicyKeyValues: Sendable {
    /// The client's address.
    public var ip: String
    /// The token's subject; `nil` without a token.
    public var subject: String?
    /// The token's `client_id`; `nil` without a token, or for a token without one.
    public var clientID: String?
    /// The tier that chose the request's policies.
    public var role: String?
    /// The API key as sent (hashed when a key needs it); `nil` without one.
    public var apiKey: String?
    /// The matched route's template.
    public var route: String?
    /// The method.
    public var method: String?

    /// Creates the values of one request.
    /// - Parameters:
    ///   - ip: The client's address.
    ///   - subject: The token's subject, `nil` without a token.
    ///   - clientID: The token's `client_id`.
    ///   - role: The tier that chose the request's policies.
    ///   - apiKey: The API key header's value, as sent.
    ///   - route: The matched route's template.
    ///   - method: The method (`GET` for a `HEAD`).
    public init(
        ip: String, subject: String? = nil, clientID: String? = nil, role: String? = nil, apiKey: String? = nil, route: String? = nil,
        method: String? = nil
    ) {
        self.ip = ip
        self.subject = subject
        self.clientID = clientID
        self.role = role
        self.apiKey = apiKey
        self.route = route
        self.method = method
    }

    /// The caller as the limiter's logs name it: the subject, or `ip:` and the address.
    public var caller: String {
        self.subject ?? "ip:" + self.ip
    }

    /// The key value of a policy keyed by `parts`.
    /// - Parameter parts: The policy's `key`.
    /// - Returns: The parts' values joined by `|`.
    public func key(_ parts: [PolicyKeyPart]) -> String {
        var key = ""
        for part in parts {
            if !key.isEmpty { key.append("|") }
            switch part {
            case .ip: Self.append(self.ip, to: &key, escapingColons: false)
            case .sub: self.append(self.subject, to: &key)
            case .clientID: self.append(self.clientID, to: &key)
            case .role: self.append(self.role, to: &key)
            case .apiKey: self.append(self.apiKey.flatMap { $0.isEmpty ? nil : Self.hash($0) }, to: &key)
            case .route: self.append(self.route, to: &key)
            case .method: self.append(self.method, to: &key)
            }
        }
        return key
    }

    /// Appends a part's value, or the caller's identity when the request lacks it.
    private func append(_ value: String?, to key: inout String) {
        if let value {
            Self.append(value, to: &key, escapingColons: true)
        } else if let subject = self.subject {
            key.append("sub:")
            Self.append(subject, to: &key, escapingColons: true)
        } else {
            key.append("ip:")
            Self.append(self.ip, to: &key, escapingColons: false)
        }
    }

    /// Appends `value`, with `%`, `|` (and `:`) percent-encoded; the common value is copied as it is.
    private static func append(_ value: String, to key: inout String, escapingColons: Bool) {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "|") || (escapingColons && $0 == UInt8(ascii: ":")) }) else {
            key.append(value)
            return
        }
        for character in value.unicodeScalars {
            switch character {
            case "%": key.append("%25")
            case "|": key.append("%7C")
            case ":" where escapingColons: key.append("%3A")
            default: key.unicodeScalars.append(character)
            }
        }
    }

    /// The first 16 bytes of the SHA-256 of `apiKey`, in lower-case hex.
    static func hash(_ apiKey: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(32)
        for byte in SHA256.hash(data: Array(apiKey.utf8)).prefix(16) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
