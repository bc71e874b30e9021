import Foundation
import GatehouseAuthAPI
import JWTKit
import Testing

/// Signs access tokens as an issuer does (ES256, `kid` and `typ: at+jwt` in the header) with one key of its own,
/// and publishes that key as a JWKS. The edge's unit tests mint their tokens with it; the edge against the real
/// issuer's keys and signer is tested in EdgeRouterTests (`AccessTokenVerifierTests`).
struct TestTokenIssuer: Sendable {
    /// The `iss` of its tokens.
    static let issuer = "https://auth.test"

    /// The JWKS document with its one public key.
    let jwks: String
    private let kid: String
    private let keys: JWTKeyCollection

    init() async throws {
        let key = ES256PrivateKey()
        let (x, y) = try #require(key.publicKey.parameters)
        self.kid = UUID().uuidString
        self.jwks = #"{"keys":[{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(self.kid)","alg":"ES256","use":"sig"}]}"#
        self.keys = JWTKeyCollection()
        await self.keys.add(ecdsa: key, kid: JWKIdentifier(string: self.kid))
    }

    /// A signed access token with these claims.
    func token(
        subject: String = "alice", issuedAt: Date = Date(), lifetime: Duration = .seconds(600), id: String = UUID().uuidString, scopes: [String] = ["read"]
    ) async throws -> String {
        var header = JWTHeader()
        header.typ = AccessTokenClaims.headerType
        let claims = AccessTokenClaims(
            issuer: Self.issuer, audience: "gatehouse", subject: subject, issuedAt: issuedAt, lifetime: lifetime, id: id,
            scopes: scopes, roles: ["user"], clientID: nil
        )
        return try await self.keys.sign(claims, kid: JWKIdentifier(string: self.kid), header: header)
    }
}
