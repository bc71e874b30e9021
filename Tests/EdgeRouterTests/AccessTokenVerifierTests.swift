@testable import AuthIssuerCore
import EdgeRouterCore
import Foundation
import GatehouseAuthAPI
import GatehouseTestSupport
import JWTKit
import Testing

/// The edge's token checks against tokens minted by the real issuer code, and against forgeries.
struct AccessTokenVerifierTests {
    static let issuer = "https://auth.test"

    /// A key ring of the real issuer on its own SQLite file.
    struct Issuer {
        let keys: SigningKeyRing
        let folder: TestFolder
        let store: AuthStore

        init() async throws {
            self.folder = try TestFolder()
            self.store = try await AuthStore(path: self.folder.path("auth.sqlite"))
            try await AuthEventPublisher.ensureKeys(store: self.store, policy: TokenPolicy(issuer: AccessTokenVerifierTests.issuer))
            self.keys = SigningKeyRing()
            try await self.keys.reload(from: self.store)
        }

        var jwks: String { self.keys.current?.jwksJSON ?? "" }
        var kid: String { self.keys.current?.signingKID ?? "" }

        func token(
            subject: String = "alice", issuer: String = AccessTokenVerifierTests.issuer, audience: String = "gatehouse",
            issuedAt: Date = Date(), lifetime: Duration = .seconds(600), id: String = UUID().uuidString, scopes: [String] = ["read"]
        ) async throws -> String {
            try await self.keys.sign(
                AccessTokenClaims(
                    issuer: issuer, audience: audience, subject: subject, issuedAt: issuedAt, lifetime: lifetime, id: id,
                    scopes: scopes, roles: ["user"], clientID: nil
                ))
        }
    }

    private func verifier(_ issuer: Issuer, revocations: RevocationList = RevocationList()) async throws -> AccessTokenVerifier {
        let verifier = AccessTokenVerifier(issuer: Self.issuer, audience: "gatehouse", revocations: revocations)
        let loaded = try await verifier.replaceKeys(jwksJSON: issuer.jwks)
        #expect(loaded.count == 2, "the signing key and the next one")
        return verifier
    }

    @Test func aValidTokenIsVerifiedOnceAndRememberedUntilItExpires() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let token = try await issuer.token()
        let claims = try await verifier.verify(token).get()
        #expect(claims.sub.value == "alice")
        #expect(claims.roles == ["user"])
        #expect(verifier.rememberedCount == 1)
        #expect(try await verifier.verify(token).get() == claims)
        let later = Int64(claims.exp.value.timeIntervalSince1970) + 31
        #expect(await verifier.verify(token, now: later) == .failure(.expired), "a remembered token still expires")
    }

    @Test func timesIssuerAndAudienceAreChecked() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let expired = try await issuer.token(issuedAt: Date().addingTimeInterval(-3600), lifetime: .seconds(300))
        #expect(await verifier.verify(expired) == .failure(.expired))
        let future = try await issuer.token(issuedAt: Date().addingTimeInterval(600))
        #expect(await verifier.verify(future) == .failure(.notYetValid))
        let skewed = try await issuer.token(issuedAt: Date().addingTimeInterval(20))
        _ = try await verifier.verify(skewed).get()  // a few seconds of clock skew are allowed
        #expect(await verifier.verify(try await issuer.token(issuer: "https://evil.test")) == .failure(.wrongIssuer))
        #expect(await verifier.verify(try await issuer.token(audience: "billing")) == .failure(.wrongAudience))
    }

    @Test func forgeriesAreRefusedBeforeOrByTheSignatureCheck() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let genuine = try await issuer.token()
        let parts = genuine.split(separator: ".").map(String.init)
        func header(_ fields: String) -> String { base64URL(Array(fields.utf8)) }

        let none = [header(#"{"alg":"none","typ":"at+jwt","kid":"\#(issuer.kid)"}"#), parts[1], "AA"].joined(separator: ".")
        #expect(await verifier.verify(none) == .failure(.algorithmMismatch), "alg none is never accepted")
        let hmac = [header(#"{"alg":"HS256","typ":"at+jwt","kid":"\#(issuer.kid)"}"#), parts[1], parts[2]].joined(separator: ".")
        #expect(await verifier.verify(hmac) == .failure(.algorithmMismatch), "HS256 with the public key as secret is refused")
        let unknown = [header(#"{"alg":"ES256","typ":"at+jwt","kid":"no-such-key"}"#), parts[1], parts[2]].joined(separator: ".")
        #expect(await verifier.verify(unknown) == .failure(.unknownKey))
        let notAccess = [header(#"{"alg":"ES256","typ":"JWT","kid":"\#(issuer.kid)"}"#), parts[1], parts[2]].joined(separator: ".")
        #expect(await verifier.verify(notAccess) == .failure(.wrongType))

        // Signed by another issuer's key, presented under a kid this edge knows.
        let other = try await Issuer()
        let foreign = try await other.token().split(separator: ".").map(String.init)
        let borrowed = [header(#"{"alg":"ES256","typ":"at+jwt","kid":"\#(issuer.kid)"}"#), foreign[1], foreign[2]].joined(separator: ".")
        #expect(await verifier.verify(borrowed) == .failure(.badSignature))
        let tampered = [parts[0], base64URL(Array(#"{"sub":"admin"}"#.utf8)), parts[2]].joined(separator: ".")
        #expect(await verifier.verify(tampered) == .failure(.badSignature))

        for garbage in ["", "abc", "a.b", "a.b.c.d", "a..c", String(repeating: "a", count: 9000), "é.b.c", genuine + " "] {
            #expect(await verifier.verify(garbage) == .failure(.malformed), "\(garbage.prefix(20))")
        }
        #expect(verifier.rememberedCount == 0, "nothing refused is remembered")
    }

    @Test func criticalHeaderExtensionsAreRefusedBeforeTheSignatureCheck() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let snapshot = try #require(issuer.keys.current)
        /// A token signed by the issuer's key, with `crit` (and `extra`) added to its header.
        func signed(crit: JWTHeaderField?, extra: [String: JWTHeaderField] = [:]) async throws -> String {
            var header = JWTHeader(fields: extra)
            header.typ = AccessTokenClaims.headerType
            if let crit { header.fields["crit"] = crit }
            let claims = AccessTokenClaims(
                issuer: Self.issuer, audience: "gatehouse", subject: "alice", issuedAt: Date(), lifetime: .seconds(600), id: UUID().uuidString,
                scopes: ["read"], roles: [], clientID: nil
            )
            return try await snapshot.keys.sign(claims, kid: JWKIdentifier(string: snapshot.signingKID), header: header)
        }

        _ = try await verifier.verify(try await signed(crit: nil)).get()  // the same key and claims without crit verify
        for names in [["exp"], ["x-custom"]] {
            let token = try await signed(crit: .array(names.map { .string($0) }), extra: ["x-custom": .string("must be understood")])
            #expect(await verifier.verify(token) == .failure(.unsupportedCriticalHeader), "crit \(names), validly signed")
            // The same header with a broken signature gets the same answer: the header is refused first.
            #expect(await verifier.verify(String(token.dropLast(4)) + "AAAA") == .failure(.unsupportedCriticalHeader), "crit \(names)")
        }
        // RFC 7515 §4.1.11: crit is a non-empty array of names.
        for malformed: JWTHeaderField in [.array([]), .string("exp"), .array([.int(1)]), .null] {
            #expect(await verifier.verify(try await signed(crit: malformed)) == .failure(.malformed), "crit \(malformed)")
        }
        #expect(verifier.rememberedCount == 1, "only the token without crit is remembered")
        #expect(TokenRejection.unsupportedCriticalHeader.rawValue == "unsupported_critical_header")
    }

    @Test func revokedTokensAreRefusedEvenWhenRemembered() async throws {
        let issuer = try await Issuer()
        let revocations = RevocationList()
        let verifier = try await self.verifier(issuer, revocations: revocations)
        let token = try await issuer.token(id: "jti-1")
        _ = try await verifier.verify(token).get()
        _ = revocations.apply(RevocationEvent(version: 1, target: .token(jti: "jti-1", expiresAt: Int64(Date().timeIntervalSince1970) + 600)))
        #expect(await verifier.verify(token) == .failure(.revoked))
        let other = try await issuer.token(subject: "bob", issuedAt: Date().addingTimeInterval(-10))
        _ = revocations.apply(RevocationEvent(version: 2, target: .subject("bob", issuedBefore: Int64(Date().timeIntervalSince1970))))
        #expect(await verifier.verify(other) == .failure(.revoked))
        let fresh = try await issuer.token(subject: "bob", issuedAt: Date().addingTimeInterval(5))
        _ = try await verifier.verify(fresh).get()  // tokens issued after the cut-off are valid
    }

    @Test func theSameKeysFetchedAgainKeepRememberedTokens() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let token = try await issuer.token()
        _ = try await verifier.verify(token).get()
        // A refetch after a key event, forged or not, that finds the same keys: no signature work again.
        try await verifier.replaceKeys(jwksJSON: issuer.jwks)
        #expect(verifier.rememberedCount == 1)
        // The published keys plus another one (a rotation's next key): still kept.
        let other = try await Issuer()
        let merged = try Self.mergedJWKS(issuer.jwks, other.jwks)
        try await verifier.replaceKeys(jwksJSON: merged)
        #expect(verifier.rememberedCount == 1)
        _ = try await verifier.verify(token).get()
    }

    @Test func aRememberedTokenIsFoundByItsWholeBytesNotByItsEnd() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let token = try await issuer.token()
        let claims = try await verifier.verify(token).get()
        // Read in place from the Authorization value it is a slice of, as the edge reads it.
        let header = "Bearer " + token + " "
        let slice = header.dropFirst(7).dropLast()
        #expect(try verifier.rememberedVerdict(slice)?.get() == claims)
        // Another token ending in the same bytes (its payload changed) is not taken for the one remembered.
        var forged = Array(token.utf8)
        let payload = try #require(forged.firstIndex(of: UInt8(ascii: "."))) + 2
        forged[payload] = forged[payload] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let other = String(decoding: forged, as: UTF8.self)
        #expect(verifier.rememberedVerdict(other[...]) == nil)
        #expect(await verifier.verify(other) != .success(claims))
    }

    /// One JWKS holding the keys of both.
    static func mergedJWKS(_ first: String, _ second: String) throws -> String {
        let keys = try [first, second].flatMap { text in
            (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["keys"] as? [Any] ?? []
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: ["keys": keys]), as: UTF8.self)
    }

    @Test func newKeysReplaceTheOldAndForgetRememberedTokens() async throws {
        let issuer = try await Issuer()
        let verifier = try await self.verifier(issuer)
        let token = try await issuer.token()
        _ = try await verifier.verify(token).get()
        let other = try await Issuer()
        try await verifier.replaceKeys(jwksJSON: other.jwks)
        #expect(verifier.rememberedCount == 0)
        #expect(await verifier.verify(token) == .failure(.unknownKey))
    }
}

/// Base64url without padding.
func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
