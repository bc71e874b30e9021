/// How long a revocation must be kept: as long as any edge router may still accept a token it revokes.
///
/// An edge accepts a token until its `exp` plus the edge's leeway (`auth.leeway_ms`, at most
/// ``largestLeeway``), and the issuer signs tokens valid for at most ``longestAccessLifetime``
/// (`tokens.access_lifetime_s`, whatever it was when the token was issued). So a token revocation matters
/// until `expires_at` + leeway, and a subject revocation until `issued_before` + the longest lifetime +
/// leeway (every token it revokes was issued before `issued_before`). The issuer keeps revocations for the
/// largest leeway any edge can be configured with, so no edge configuration outlives them; an edge forgets
/// them after its own leeway.
public enum RevocationRetention {
    /// The longest access-token lifetime the issuer can be configured with (`tokens.access_lifetime_s`).
    public static let longestAccessLifetime: Duration = .seconds(900)
    /// The largest clock-skew leeway an edge can be configured with (`auth.leeway_ms`).
    public static let largestLeeway: Duration = .seconds(300)

    /// Whether a token revocation may still be needed by a verifier with this leeway.
    /// - Parameters:
    ///   - expiresAt: The revoked token's `exp`, seconds since the Unix epoch.
    ///   - now: Seconds since the Unix epoch.
    ///   - leeway: The verifier's leeway on `exp`, whole seconds.
    public static func keepsToken(expiresAt: Int64, now: Int64, leeway: Int64) -> Bool {
        expiresAt + leeway >= now
    }

    /// Whether a subject revocation may still be needed by a verifier with this leeway.
    /// - Parameters:
    ///   - issuedBefore: The revocation's cut-off, seconds since the Unix epoch.
    ///   - now: Seconds since the Unix epoch.
    ///   - leeway: The verifier's leeway on `exp`, whole seconds.
    public static func keepsSubject(issuedBefore: Int64, now: Int64, leeway: Int64) -> Bool {
        issuedBefore + self.longestAccessLifetime.components.seconds + leeway >= now
    }
}
