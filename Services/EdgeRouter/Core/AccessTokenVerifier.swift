import Foundation
import GatehouseAuthAPI
import JWTKit
import Synchronization

/// Verifies bearer tokens locally, against the issuer's published keys, the way RFC 8725 asks:
///
/// 1. Bounded and parsed before any cryptography: at most 8 KiB, three base64url parts, a JSON header with
///    `typ: at+jwt`, a `kid`, an `alg`, and no `crit` (RFC 7515 §4.1.11: this verifier understands no
///    header extension, so a token that marks any as critical is refused).
/// 2. The algorithm is pinned by the key: the header's `alg` must be the `alg` of the published key its
///    `kid` names (no `none`, no HS256 with a public key as the secret).
/// 3. Signature, then `iss`, `aud`, `exp` and `nbf` with a small leeway.
/// 4. Revocation: by `jti`, or by subject and issue time.
///
/// A verified token is remembered until its `exp` (bounded in count), so an ES256 signature is checked once
/// per token, not once per request; revocation is checked on every request. A JWKS that drops or changes
/// a key forgets them all; one that only adds keys (a rotation's next key) or repeats them keeps them.
package final class AccessTokenVerifier: Sendable {
    /// The largest token accepted.
    package static let maximumTokenBytes = 8 * 1024
    /// The algorithms a published key may have.
    package static let acceptedAlgorithms: Set<String> = ["ES256", "EdDSA"]

    private struct Keys {
        var collection = JWTKeyCollection()
        var algorithms: [String: String] = [:]
        /// Each key's JWK as published, to tell whether a new JWKS changed or dropped a key.
        var material: [String: Data] = [:]
    }

    /// The tokens verified, by their last 8 bytes (signature bytes, hashed at little cost); a hit counts only
    /// when the whole token is the same.
    private struct Verified {
        var claims: [UInt64: (token: String, claims: AccessTokenClaims)] = [:]

        static func key(_ token: Substring) -> UInt64 {
            Self.withBytes(of: token, Self.key(bytes:))
        }

        private static func key(bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
            bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }

        func claims(of token: Substring) -> AccessTokenClaims? {
            Self.withBytes(of: token) { bytes in
                guard var entry = self.claims[Self.key(bytes: bytes)], entry.token.utf8.count == bytes.count,
                    bytes.isEmpty || entry.token.withUTF8({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 })
                else { return nil }
                return entry.claims
            }
        }

        /// `body` over the bytes of `token`, read in place in the string it is a slice of.
        private static func withBytes<Result>(of token: Substring, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            var whole = token.base
            let utf8 = whole.utf8
            let start = utf8.distance(from: utf8.startIndex, to: token.startIndex)
            let end = utf8.distance(from: utf8.startIndex, to: token.endIndex)
            return whole.withUTF8 { body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
        }
    }

    /// The payload type used for the signature check alone; the claims are checked here, one by one, so each
    /// failure has its own reason.
    private struct SignedClaims: JWTPayload {
        let claims: AccessTokenClaims
        init(from decoder: any Decoder) throws { self.claims = try AccessTokenClaims(from: decoder) }
        func encode(to encoder: any Encoder) throws { try self.claims.encode(to: encoder) }
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private let issuer: String
    private let audience: String
    private let leeway: Int64
    private let capacity: Int
    private let revocations: RevocationList
    private let keys = Mutex(Keys())
    private let verified = Mutex(Verified())

    /// Creates a verifier with no keys; ``replaceKeys(jwksJSON:)`` loads them.
    /// - Parameters:
    ///   - issuer: The required `iss`.
    ///   - audience: The required member of `aud`.
    ///   - leeway: Clock skew allowed on `exp` and `nbf`.
    ///   - capacity: How many verified tokens are remembered.
    ///   - revocations: The revocations to enforce.
    package init(issuer: String, audience: String, leeway: Duration = .seconds(30), capacity: Int = 100_000, revocations: RevocationList) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway.components.seconds
        self.capacity = max(1, capacity)
        self.revocations = revocations
    }

    /// The published key ids.
    package var keyIDs: Set<String> {
        self.keys.withLock { Set($0.algorithms.keys) }
    }

    /// Replaces the keys with those of a JWKS document; keys without `kid`, or with an `alg` other than
    /// ES256 or EdDSA, are ignored.
    /// - Returns: The key ids loaded.
    /// - Throws: When the document is not a JWKS jwt-kit can read.
    @discardableResult
    package func replaceKeys(jwksJSON: String) async throws -> Set<String> {
        guard let object = try JSONSerialization.jsonObject(with: Data(jwksJSON.utf8)) as? [String: Any],
            let entries = object["keys"] as? [[String: Any]]
        else { throw TokenRejection.malformed }
        var fresh = Keys()
        for entry in entries {
            guard let kid = entry["kid"] as? String, let alg = entry["alg"] as? String, Self.acceptedAlgorithms.contains(alg),
                let data = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]), let jwk = try? JWK(json: String(decoding: data, as: UTF8.self))
            else { continue }
            try await fresh.collection.add(jwk: jwk)
            fresh.algorithms[kid] = alg
            fresh.material[kid] = data
        }
        _ = await fresh.collection.clearDefault()
        // Remembered tokens stay valid while every key they could have been verified with is still
        // published unchanged (a rotation adds the next key; a refetch that finds the same keys changes
        // nothing); a key dropped or changed forgets them all.
        let keptEveryKey = self.keys.withLock { keys in
            defer { keys = fresh }
            return keys.material.allSatisfy { fresh.material[$0.key] == $0.value }
        }
        if !keptEveryKey { self.verified.withLock { $0.claims.removeAll() } }
        return Set(fresh.algorithms.keys)
    }

    /// Verifies a bearer token.
    /// - Parameters:
    ///   - token: The token from `Authorization: Bearer`.
    ///   - now: Seconds since the Unix epoch.
    /// - Returns: The claims, or why the token is refused.
    package func verify(_ token: String, now: Int64 = Int64(Date().timeIntervalSince1970)) async -> Result<AccessTokenClaims, TokenRejection> {
        if let verdict = self.rememberedVerdict(token[...], now: now) { return verdict }
        let (kid, alg): (String, String)
        switch Self.header(of: token) {
        case .success(let header): (kid, alg) = header
        case .failure(let rejection): return .failure(rejection)
        }
        let (collection, keyAlgorithm) = self.keys.withLock { ($0.collection, $0.algorithms[kid]) }
        guard let keyAlgorithm else { return .failure(.unknownKey) }
        guard keyAlgorithm == alg else { return .failure(.algorithmMismatch) }
        let claims: AccessTokenClaims
        do {
            claims = try await collection.verify(token, as: SignedClaims.self).claims
        } catch {
            return .failure(.badSignature)
        }
        // The subject, roles and scopes go into header fields toward an HTTP upstream (`X-Gatehouse-Sub`, …),
        // which the edge writes without re-checking them: a claim with a control character is refused here.
        guard Self.fitsInHeaderFields(claims) else { return .failure(.malformed) }
        guard claims.iss.value == self.issuer else { return .failure(.wrongIssuer) }
        guard claims.aud.value.contains(self.audience) else { return .failure(.wrongAudience) }
        guard Int64(claims.nbf.value.timeIntervalSince1970) <= now + self.leeway else { return .failure(.notYetValid) }
        let result = self.checkLive(claims, now: now)
        if case .success = result {
            self.verified.withLock { verified in
                if verified.claims.count >= self.capacity {
                    verified.claims = verified.claims.filter { Int64($0.value.claims.exp.value.timeIntervalSince1970) + self.leeway >= now }
                    if verified.claims.count >= self.capacity { verified.claims.removeAll(keepingCapacity: true) }
                }
                verified.claims[Verified.key(token[...])] = (token, claims)
            }
        }
        return result
    }

    /// The verdict on a token verified before and remembered, its expiry and revocation checked at `now`;
    /// `nil` when it is not remembered (only ``verify(_:now:)`` can decide it).
    package func rememberedVerdict(_ token: Substring, now: Int64 = Int64(Date().timeIntervalSince1970)) -> Result<AccessTokenClaims, TokenRejection>? {
        self.verified.withLock { $0.claims(of: token) }.map { self.checkLive($0, now: now) }
    }

    /// Forgets remembered tokens past their expiry, and revocations no token this verifier accepts can need
    /// any more (kept until `exp` + leeway, so a revoked token stays refused as long as it would be accepted).
    package func prune(now: Int64) {
        self.verified.withLock { verified in
            verified.claims = verified.claims.filter { Int64($0.value.claims.exp.value.timeIntervalSince1970) + self.leeway >= now }
        }
        self.revocations.prune(now: now, leeway: self.leeway)
    }

    /// Whether a token was verified before and is remembered (so checking it again needs no signature work).
    package func isRemembered(_ token: String) -> Bool {
        self.verified.withLock { $0.claims(of: token[...]) != nil }
    }

    /// How many verified tokens are remembered.
    package var rememberedCount: Int {
        self.verified.withLock { $0.claims.count }
    }

    private func checkLive(_ claims: AccessTokenClaims, now: Int64) -> Result<AccessTokenClaims, TokenRejection> {
        guard Int64(claims.exp.value.timeIntervalSince1970) + self.leeway > now else { return .failure(.expired) }
        let issuedAt = Int64(claims.iat.value.timeIntervalSince1970)
        guard !self.revocations.isRevoked(jti: claims.jti.value, subject: claims.sub.value, issuedAt: issuedAt) else {
            return .failure(.revoked)
        }
        return .success(claims)
    }

    /// Whether the subject, roles and scopes are free of control characters (CR, LF, NUL, …), so that each
    /// can be a header field's value as it is.
    static func fitsInHeaderFields(_ claims: AccessTokenClaims) -> Bool {
        let printable = { (text: String) in text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F } }
        return printable(claims.sub.value) && printable(claims.scope) && claims.roles.allSatisfy(printable)
    }

    /// The `kid` and `alg` of a token's header, after the structural checks.
    static func header(of token: String) -> Result<(kid: String, alg: String), TokenRejection> {
        let bytes = token.utf8
        guard bytes.count <= Self.maximumTokenBytes, bytes.allSatisfy(Self.isTokenByte) else { return .failure(.malformed) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty, parts[0].utf8.count <= 1024,
            let headerData = Self.base64URLDecoded(parts[0]),
            let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any]
        else { return .failure(.malformed) }
        guard let type = header["typ"] as? String, ["at+jwt", "application/at+jwt"].contains(type.lowercased()) else {
            return .failure(.wrongType)
        }
        guard let kid = header["kid"] as? String else { return .failure(.unknownKey) }
        guard let alg = header["alg"] as? String else { return .failure(.malformed) }
        if let critical = header["crit"] {
            // RFC 7515 §4.1.11: a non-empty array of names; none of them is one this verifier understands.
            guard let names = critical as? [Any], !names.isEmpty, names.allSatisfy({ $0 is String }) else { return .failure(.malformed) }
            return .failure(.unsupportedCriticalHeader)
        }
        return .success((kid, alg))
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    private static func base64URLDecoded(_ part: Substring) -> Data? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }
}
