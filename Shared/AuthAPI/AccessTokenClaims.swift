import Foundation
import JWTKit

/// The claims of a Gatehouse access token (RFC 7519, with the profile of RFC 9068): what the auth issuer
/// signs and what an edge router reads after verifying the signature.
///
/// `scope` is a space-separated list as in RFC 6749 §3.3; `roles` lists the caller's roles; `client_id`
/// names the OAuth client the token was issued to, when there was one.
public struct AccessTokenClaims: JWTPayload, Equatable {
    /// The `typ` header of every access token (RFC 9068 §2.1).
    public static let headerType = "at+jwt"

    /// Who issued the token (the issuer's URL).
    public var iss: IssuerClaim
    /// Who the token is for.
    public var aud: AudienceClaim
    /// The user's name, or the client id for `client_credentials` tokens.
    public var sub: SubjectClaim
    /// When the token expires.
    public var exp: ExpirationClaim
    /// When it was issued.
    public var iat: IssuedAtClaim
    /// When it becomes valid (the issue time).
    public var nbf: NotBeforeClaim
    /// The token's unique id, the handle for revoking it.
    public var jti: IDClaim
    /// The granted scopes, space-separated.
    public var scope: String
    /// The caller's roles.
    public var roles: [String]
    /// The OAuth client the token was issued to, if any.
    public var clientID: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, exp, iat, nbf, jti, scope, roles
        case clientID = "client_id"
    }

    /// Creates claims.
    /// - Parameters:
    ///   - issuer: The issuer's URL.
    ///   - audience: The audience.
    ///   - subject: The user or client.
    ///   - issuedAt: The issue time, whole seconds.
    ///   - lifetime: How long the token is valid.
    ///   - id: The `jti`.
    ///   - scopes: The granted scopes.
    ///   - roles: The caller's roles.
    ///   - clientID: The client the token is issued to.
    public init(
        issuer: String, audience: String, subject: String, issuedAt: Date, lifetime: Duration,
        id: String, scopes: [String], roles: [String], clientID: String?
    ) {
        let issued = Date(timeIntervalSince1970: issuedAt.timeIntervalSince1970.rounded(.down))
        self.iss = IssuerClaim(value: issuer)
        self.aud = AudienceClaim(value: [audience])
        self.sub = SubjectClaim(value: subject)
        self.iat = IssuedAtClaim(value: issued)
        self.nbf = NotBeforeClaim(value: issued)
        self.exp = ExpirationClaim(value: issued.addingTimeInterval(TimeInterval(lifetime.components.seconds)))
        self.jti = IDClaim(value: id)
        self.scope = scopes.joined(separator: " ")
        self.roles = roles
        self.clientID = clientID
    }

    /// The granted scopes as a list.
    public var scopes: [String] {
        self.scope.split(separator: " ").map(String.init)
    }

    /// Checks the times: not expired and already valid.
    /// - Throws: `JWTError` when the token has expired or is not valid yet.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.exp.verifyNotExpired()
        try self.nbf.verifyNotBefore()
    }
}
