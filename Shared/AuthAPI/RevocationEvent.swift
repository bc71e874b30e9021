import GatehouseEvents

/// What the auth issuer publishes on its revocation channel, one message per revocation, in version order
/// (docs/protocol.md, "Revocation events").
///
/// ```json
/// {"version":7,"kind":"token","jti":"4b9d…","expires_at":1764065400}
/// {"version":8,"kind":"subject","subject":"alice","issued_before":1764064800}
/// ```
/// Versions increase by exactly one per revocation, so a subscriber that sees a version jump (or loses its
/// subscription) knows it missed one and fetches the whole state with `auth.RevocationState`. Text to and from
/// JSON: ``EventMessage``.
public struct RevocationEvent: EventMessage, VersionedEvent, Equatable {
    /// What was revoked.
    public enum Target: Sendable, Hashable {
        /// One access token, until its expiry (seconds since the Unix epoch).
        case token(jti: String, expiresAt: Int64)
        /// Every token of the subject issued before the time (seconds since the Unix epoch).
        case subject(String, issuedBefore: Int64)
    }

    /// The revocation's version.
    public let version: Int64
    /// What was revoked.
    public let target: Target

    /// The default Redis channel.
    public static let defaultChannel = "gatehouse:auth:revocations"

    /// Creates an event.
    public init(version: Int64, target: Target) {
        self.version = version
        self.target = target
    }

    private enum CodingKeys: String, CodingKey {
        case version, kind, jti, subject
        case expiresAt = "expires_at"
        case issuedBefore = "issued_before"
    }

    /// Decodes the JSON form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.version = try container.decode(Int64.self, forKey: .version)
        switch try container.decode(String.self, forKey: .kind) {
        case "token":
            self.target = .token(jti: try container.decode(String.self, forKey: .jti), expiresAt: try container.decode(Int64.self, forKey: .expiresAt))
        case "subject":
            self.target = .subject(try container.decode(String.self, forKey: .subject), issuedBefore: try container.decode(Int64.self, forKey: .issuedBefore))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown revocation kind '\(other)'")
        }
    }

    /// Encodes the JSON form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.version, forKey: .version)
        switch self.target {
        case .token(let jti, let expiresAt):
            try container.encode("token", forKey: .kind)
            try container.encode(jti, forKey: .jti)
            try container.encode(expiresAt, forKey: .expiresAt)
        case .subject(let subject, let issuedBefore):
            try container.encode("subject", forKey: .kind)
            try container.encode(subject, forKey: .subject)
            try container.encode(issuedBefore, forKey: .issuedBefore)
        }
    }
}
