import Foundation
import GatehouseAuthAPI
import JWTKit
import Synchronization

/// The keys the issuer signs with and publishes, as last loaded from the database.
///
/// A snapshot holds a `JWTKeyCollection` with every published public key and the active private key,
/// plus the JWKS document rendered once, so `GET /.well-known/jwks.json` costs no work. ``reload(from:)``
/// swaps the snapshot when the key generation changed (a rotation by the schedule, the CLI, or a retired
/// key leaving).
package final class SigningKeyRing: Sendable {
    /// One loaded generation of keys.
    package struct Snapshot: Sendable {
        /// The key generation it was loaded at.
        package let generation: Int64
        /// The `kid` of the active key.
        package let signingKID: String
        /// Every published key id.
        package let publishedKIDs: [String]
        /// The JWKS document (RFC 7517 §5).
        package let jwksJSON: String
        /// Verifies tokens of any published key; signs with the active one.
        let keys: JWTKeyCollection
    }

    private let snapshot: Mutex<Snapshot?>

    /// Creates an empty ring; ``reload(from:)`` loads it.
    package init() {
        self.snapshot = Mutex(nil)
    }

    /// The current keys, or `nil` before the first load.
    package var current: Snapshot? {
        self.snapshot.withLock { $0 }
    }

    /// Loads the keys when the database's key generation differs from the loaded one.
    /// - Parameter store: The database.
    /// - Returns: The new snapshot when it changed, else `nil`.
    /// - Throws: ``AuthStoreError`` when the database fails or holds no active key.
    @discardableResult
    package func reload(from store: AuthStore) async throws -> Snapshot? {
        let generation = try await store.keyGeneration()
        if let loaded = self.current, loaded.generation == generation { return nil }
        let (current, records) = try await store.signingKeys()
        guard let active = records.first(where: { $0.state == .active }) else {
            throw AuthStoreError("the auth database has no active signing key")
        }
        let keys = JWTKeyCollection()
        for record in records {
            try await keys.add(jwk: try JWK(json: record.publicJWK))
        }
        try await SigningKeyMaterial.addPrivateKey(active, to: keys)
        // No default key: a token naming an unknown `kid` must not be tried against some other key.
        _ = await keys.clearDefault()
        let snapshot = Snapshot(
            generation: current,
            signingKID: active.kid,
            publishedKIDs: records.map(\.kid),
            jwksJSON: #"{"keys":["# + records.map(\.publicJWK).joined(separator: ",") + "]}",
            keys: keys
        )
        self.snapshot.withLock { $0 = snapshot }
        return snapshot
    }

    /// Signs access-token claims with the active key, `kid` and `typ: at+jwt` in the header.
    /// - Throws: ``AuthStoreError`` before the first load; jwt-kit's error when signing fails.
    package func sign(_ claims: AccessTokenClaims) async throws -> String {
        guard let snapshot = self.current else { throw AuthStoreError("no signing key is loaded") }
        var header = JWTHeader()
        header.typ = AccessTokenClaims.headerType
        return try await snapshot.keys.sign(claims, kid: JWKIdentifier(string: snapshot.signingKID), header: header)
    }

    /// Verifies one of this issuer's access tokens for revocation: a published `kid`, a valid signature,
    /// this issuer and audience, and still accepted by some edge: not expired, or expired less than the
    /// largest leeway an edge may allow (``RevocationRetention/largestLeeway``) ago.
    /// - Parameters:
    ///   - token: The compact JWS.
    ///   - issuer: The required `iss`.
    ///   - audience: The required member of `aud`.
    ///   - now: The current time.
    /// - Returns: The claims, or `nil` when the token is not a token of this issuer that an edge may accept.
    package func verify(_ token: String, issuer: String, audience: String, now: Date = Date()) async -> AccessTokenClaims? {
        guard let snapshot = self.current, token.utf8.count <= 8192 else { return nil }
        guard let claims = try? await snapshot.keys.verify(token, as: SignedClaims.self).claims,
            claims.aud.value.contains(audience), claims.iss.value == issuer,
            RevocationRetention.keepsToken(
                expiresAt: Int64(claims.exp.value.timeIntervalSince1970), now: Int64(now.timeIntervalSince1970),
                leeway: RevocationRetention.largestLeeway.components.seconds
            )
        else { return nil }
        return claims
    }

    /// The claims for the signature check alone: their times are checked by ``verify(_:issuer:audience:now:)``.
    private struct SignedClaims: JWTPayload {
        let claims: AccessTokenClaims
        init(from decoder: any Decoder) throws { self.claims = try AccessTokenClaims(from: decoder) }
        func encode(to encoder: any Encoder) throws { try self.claims.encode(to: encoder) }
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The SigningKeyEvent announcing a snapshot.
    package static func event(_ snapshot: Snapshot) -> SigningKeyEvent {
        SigningKeyEvent(generation: snapshot.generation, signingKID: snapshot.signingKID, publishedKIDs: snapshot.publishedKIDs)
    }
}
