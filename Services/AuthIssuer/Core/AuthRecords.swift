/// A user as stored: the bcrypt hash never leaves the issuer.
package struct UserRecord: Sendable, Equatable {
    /// The login name, also the `sub` of the user's tokens.
    package let name: String
    /// The bcrypt hash of the password.
    package let passwordHash: String
    /// The user's roles, sorted.
    package let roles: [String]
    /// A disabled user cannot log in or refresh.
    package let disabled: Bool
    /// When the user was created, milliseconds since the Unix epoch.
    package let createdAtMs: Int64
}

/// An OAuth client as stored: the secret itself is never stored, only its SHA-256.
package struct ClientRecord: Sendable, Equatable {
    /// The client id, also the `sub` of its `client_credentials` tokens.
    package let id: String
    /// The SHA-256 of the secret, lower-case hex.
    package let secretHash: String
    /// The scopes the client may ask for.
    package let scopes: ScopeSet
    /// The roles its tokens carry.
    package let roles: [String]
    /// When the client was created, milliseconds since the Unix epoch.
    package let createdAtMs: Int64
}

/// A signing key as stored.
package struct SigningKeyRecord: Sendable, Equatable {
    /// Where the key is in its life.
    package enum State: String, Sendable {
        /// Published in the JWKS, not signing yet: the key of the next rotation.
        case next
        /// Signing new tokens.
        case active
        /// No longer signing; published until every token it signed has expired.
        case retired
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    package let kid: String
    /// `ES256` or `EdDSA`.
    package let algorithm: String
    /// The private key (PEM for ES256, base64url of the seed for EdDSA); never logged.
    package let privateKey: String
    /// The public key as a JWK JSON object, as published.
    package let publicJWK: String
    /// When it was generated, milliseconds since the Unix epoch.
    package let createdAtMs: Int64
    /// When it started signing.
    package let activatedAtMs: Int64?
    /// When it stopped signing.
    package let retiredAtMs: Int64?
    /// When it leaves the JWKS.
    package let unpublishAtMs: Int64?

    /// Creates a record of a freshly generated key.
    package init(kid: String, algorithm: String, privateKey: String, publicJWK: String, createdAtMs: Int64) {
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
    package var state: State {
        if self.retiredAtMs != nil { return .retired }
        return self.activatedAtMs == nil ? .next : .active
    }
}

/// What a refresh token stands for; the token itself is never stored, only its SHA-256.
package struct RefreshGrant: Sendable, Equatable {
    /// The rotation family: every token descended from one login.
    package let family: String
    /// The user (or client) the tokens are for.
    package let subject: String
    /// The client the family was issued to, if any.
    package let clientID: String?
    /// The scopes granted at login; a refresh may narrow them.
    package let scopes: ScopeSet
    /// When the family's first token was issued, milliseconds since the Unix epoch.
    package let familyCreatedAtMs: Int64

    /// Creates a grant.
    package init(family: String, subject: String, clientID: String?, scopes: ScopeSet, familyCreatedAtMs: Int64) {
        self.family = family
        self.subject = subject
        self.clientID = clientID
        self.scopes = scopes
        self.familyCreatedAtMs = familyCreatedAtMs
    }
}
