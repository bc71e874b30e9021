/// A user as stored: the bcrypt hash never leaves the issuer.
public struct UserRecord: Sendable, Equatable {
    /// The login name, also the `sub` of the user's tokens.
    public let name: String
    /// The bcrypt hash of the password.
    public let passwordHash: String
    /// The user's roles, sorted.
    public let roles: [String]
    /// A disabled user cannot log in or refresh.
    public let disabled: Bool
    /// When the user was created, milliseconds since the Unix epoch.
    public let createdAtMs: Int64
}

/// An OAuth client as stored: the secret itself is never stored, only its SHA-256.
public struct ClientRecord: Sendable, Equatable {
    /// The client id, also the `sub` of its `client_credentials` tokens.
    public let id: String
    /// The SHA-256 of the secret, lower-case hex.
    public let secretHash: String
    /// The scopes the client may ask for.
    public let scopes: ScopeSet
    /// The roles its tokens carry.
    public let roles: [String]
    /// When the client was created, milliseconds since the Unix epoch.
    public let createdAtMs: Int64
}

/// A signing key as stored.
public struct SigningKeyRecord: Sendable, Equatable {
    /// Where the key is in its life.
    public enum State: String, Sendable {
        /// Published in the JWKS, not signing yet: the key of the next rotation.
        case next
        /// Signing new tokens.
        case active
        /// No longer signing; published until every token it signed has expired.
        case retired
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    public let kid: String
    /// `ES256` or `EdDSA`.
    public let algorithm: String
    /// The private key (PEM for ES256, base64url of the seed for EdDSA); never logged.
    public let privateKey: String
    /// The public key as a JWK JSON object, as published.
    public let publicJWK: String
    /// When it was generated, milliseconds since the Unix epoch.
    public let createdAtMs: Int64
    /// When it started signing.
    public let activatedAtMs: Int64?
    /// When it stopped signing.
    public let retiredAtMs: Int64?
    /// When it leaves the JWKS.
    public let unpublishAtMs: Int64?

    /// Creates a record of a freshly generated key.
    public init(kid: String, algorithm: String, privateKey: String, publicJWK: String, createdAtMs: Int64) {
        self.init(kid: kid, algorithm: algorithm, privateKey: privateKey, publicJWK: publicJWK, createdAtMs: createdAtMs, activatedAtMs: nil, retiredAtMs: nil, unpublishAtMs: nil)
    }

    init(kid: String, algorithm: String, privateKey: String, publicJWK: String, createdAtMs: Int64, activatedAtMs: Int64?, retiredAtMs: Int64?, unpublishAtMs: Int64?) {
        self.kid = kid
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.publicJWK = publicJWK
        self.createdAtMs = createdAtMs
        self.activatedAtMs = activatedAtMs
        self.retiredAtMs = retiredAtMs
        self.unpublishAtMs = unpublishAtMs
    }

    /// The key's state.
    public var state: State {
        if self.retiredAtMs != nil { return .retired }
        return self.activatedAtMs == nil ? .next : .active
    }
}

/// What a refresh token stands for; the token itself is never stored, only its SHA-256.
public struct RefreshGrant: Sendable, Equatable {
    /// The rotation family: every token descended from one login.
    public let family: String
    /// The user (or client) the tokens are for.
    public let subject: String
    /// The client the family was issued to, if any.
    public let clientID: String?
    /// The scopes granted at login; a refresh may narrow them.
    public let scopes: ScopeSet
    /// When the family's first token was issued, milliseconds since the Unix epoch.
    public let familyCreatedAtMs: Int64

    /// Creates a grant.
    public init(family: String, subject: String, clientID: String?, scopes: ScopeSet, familyCreatedAtMs: Int64) {
        self.family = family
        self.subject = subject
        self.clientID = clientID
        self.scopes = scopes
        self.familyCreatedAtMs = familyCreatedAtMs
    }
}
