import GatehouseObservability
import Metrics

/// The issuer's metrics, created once and reused (docs/operations.md, "auth-issuer metrics").
enum AuthMetrics {
    /// Tokens issued, by grant.
    static func issued(grant: String) -> Counter {
        counter("gatehouse_auth_tokens_issued_total", ["grant": grant])
    }

    /// Token requests refused, by grant and RFC 6749 error code.
    static func refused(grant: String, error: OAuthError.Code) -> Counter {
        counter("gatehouse_auth_token_errors_total", ["grant": grant, "error": error.rawValue])
    }

    /// Failed logins, by reason (`unknown_user`, `wrong_password`, `disabled`).
    static func failedLogin(reason: String) -> Counter {
        counter("gatehouse_auth_login_failures_total", ["reason": reason])
    }

    /// Revocations through the HTTP API, by kind (`access_token`, `refresh_family`); the CLI's are not counted.
    static func revoked(kind: String) -> Counter {
        counter("gatehouse_auth_revocations_total", ["kind": kind])
    }

    /// bcrypt verifications: a throttled login must not add one.
    static let passwordChecks = Counter(label: "gatehouse_auth_password_checks_total")
    /// Logins refused because the password hashing queue was full (`503`), before any password check.
    static let passwordChecksRefused = Counter(label: "gatehouse_auth_password_checks_refused_total")
    /// Logins refused by the login policies (failed or successful logins) before any password check.
    static let throttledLogins = Counter(label: "gatehouse_auth_logins_throttled_total")
    /// Refresh tokens presented again after rotation (each revokes a family).
    static let refreshReuse = Counter(label: "gatehouse_auth_refresh_token_reuse_total")

    private static func counter(_ label: String, _ dimensions: [String: String]) -> Counter {
        MetricsCache.counter(label, dimensions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
}
