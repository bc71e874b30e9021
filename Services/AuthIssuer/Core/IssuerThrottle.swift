import GatehouseLimiterAPI
import GatehouseRPC
import Logging
import Metrics
import Synchronization

/// The issuer's rate limits, decided by the limiter (docs/configuration.md, "auth-issuer"):
///
/// | what | counted | caller and key | asked |
/// | --- | --- | --- | --- |
/// | failed logins | per username, per client address | `user:<name>`, `ip:<address>` | `Peek` before the password check, `Check` after a failure |
/// | successful logins | per username, per client address | `user:<name>`, `ip:<address>` | `Peek` before the password check, `Check` after a success |
/// | refresh grants | per subject of the refresh token | `user:<subject>` | `Check` before the token is rotated |
/// | revocations | per authenticated client, else per client address | `client:<id>` or `ip:<address>` | `Check` before anything is revoked |
///
/// Every policy is a call of its own, keyed by its own caller, so a policy the limiter does not know turns
/// off only itself. When the limiter cannot be reached the request goes ahead (fail open, counted in
/// `gatehouse_auth_login_throttle_errors_total` and logged once per outage): a limiter outage must not lock
/// every user out, and bcrypt, the hashing queue and the family bound still bound what a caller can do.
package final class IssuerThrottle: Sendable {
    /// The limiter policy names (`login.*`, `refresh.policy`, `revoke.policy`); an empty name is not counted.
    package struct Policies: Sendable, Equatable {
        /// Failed logins per username (`login.username_policy`).
        package var failedLoginsPerUsername = "login_username"
        /// Failed logins per client address (`login.ip_policy`).
        package var failedLoginsPerAddress = "login_ip"
        /// Successful logins per username (`login.success_username_policy`).
        package var loginsPerUsername = "login_success_username"
        /// Successful logins per client address (`login.success_ip_policy`).
        package var loginsPerAddress = "login_success_ip"
        /// Refresh grants per subject (`refresh.policy`).
        package var refreshesPerSubject = "token_refresh"
        /// Revocation requests per client, or per address without client authentication (`revoke.policy`).
        package var revocationsPerCaller = "token_revoke"

        /// Creates the defaults.
        package init() {}

        /// Whether every policy is off, so the issuer never needs to ask the limiter.
        package var allOff: Bool {
            [
                self.failedLoginsPerUsername, self.failedLoginsPerAddress, self.loginsPerUsername, self.loginsPerAddress,
                self.refreshesPerSubject, self.revocationsPerCaller,
            ].allSatisfy(\.isEmpty)
        }
    }

    /// What a limiter call does.
    private enum Question {
        /// Decides without charging (`limiter.Peek`).
        case peek
        /// Decides and charges (`limiter.Check`).
        case check
    }

    private let limiter: LimiterClient
    private let policies: Policies
    private let logger: Logger
    private let failing = Atomic<Bool>(false)
    private static let errors = Counter(label: "gatehouse_auth_login_throttle_errors_total")

    /// Creates a throttle.
    /// - Parameters:
    ///   - limiter: The limiter's client; the `run()` of its RPC client must be going.
    ///   - policies: The policy names.
    ///   - logger: Receives limiter failures.
    package init(limiter: LimiterClient, policies: Policies, logger: Logger) {
        self.limiter = limiter
        self.policies = policies
        self.logger = logger
    }

    /// Whether a login may be tried now: no policy on failed or successful logins, for the username or the
    /// address, is over its limit. Nothing is charged.
    /// - Returns: `nil` when it may; otherwise the seconds until it may (at least 1).
    package func loginRetryAfter(username: String, clientIP: String) async -> Int? {
        async let failuresByName = self.ask(.peek, policy: self.policies.failedLoginsPerUsername, caller: "user:\(username)", key: username)
        async let failuresByAddress = self.ask(.peek, policy: self.policies.failedLoginsPerAddress, caller: "ip:\(clientIP)", key: clientIP)
        async let loginsByName = self.ask(.peek, policy: self.policies.loginsPerUsername, caller: "user:\(username)", key: username)
        async let loginsByAddress = self.ask(.peek, policy: self.policies.loginsPerAddress, caller: "ip:\(clientIP)", key: clientIP)
        return [await failuresByName, await failuresByAddress, await loginsByName, await loginsByAddress].compactMap { $0 }.max()
    }

    /// Counts one failed login against both the username and the address.
    package func recordFailedLogin(username: String, clientIP: String) async {
        async let byName = self.ask(.check, policy: self.policies.failedLoginsPerUsername, caller: "user:\(username)", key: username)
        async let byAddress = self.ask(.check, policy: self.policies.failedLoginsPerAddress, caller: "ip:\(clientIP)", key: clientIP)
        _ = await (byName, byAddress)
    }

    /// Counts one successful login against both the username and the address.
    package func recordLogin(username: String, clientIP: String) async {
        async let byName = self.ask(.check, policy: self.policies.loginsPerUsername, caller: "user:\(username)", key: username)
        async let byAddress = self.ask(.check, policy: self.policies.loginsPerAddress, caller: "ip:\(clientIP)", key: clientIP)
        _ = await (byName, byAddress)
    }

    /// Charges one refresh grant to the subject of the refresh token.
    /// - Returns: `nil` when it may go ahead (and was counted); otherwise the seconds until one may.
    package func refreshRetryAfter(subject: String) async -> Int? {
        await self.ask(.check, policy: self.policies.refreshesPerSubject, caller: "user:\(subject)", key: subject)
    }

    /// Charges one revocation request to the authenticated client, or to the address without one.
    /// - Returns: `nil` when it may go ahead (and was counted); otherwise the seconds until one may.
    package func revocationRetryAfter(clientID: String?, clientIP: String) async -> Int? {
        if let clientID {
            return await self.ask(.check, policy: self.policies.revocationsPerCaller, caller: "client:\(clientID)", key: clientID)
        }
        return await self.ask(.check, policy: self.policies.revocationsPerCaller, caller: "ip:\(clientIP)", key: clientIP)
    }

    /// One limiter call; the seconds to wait when it denies, `nil` when it allows or fails.
    private func ask(_ question: Question, policy: String, caller: String, key: String) async -> Int? {
        guard !policy.isEmpty else { return nil }
        let request = LimiterRequest(caller: caller, items: [LimiterRequest.Item(policy: policy, key: key)])
        do {
            let response = switch question {
            case .peek: try await self.limiter.peek(request)
            case .check: try await self.limiter.check(request)
            }
            if self.failing.exchange(false, ordering: .relaxed) {
                self.logger.notice("the limiter answers again; logins, refreshes and revocations are throttled again")
            }
            guard !response.allowed else { return nil }
            let retryAfterMs = response.statuses.first?.retryAfterMilliseconds ?? 1000
            return max(1, Int((retryAfterMs + 999) / 1000))
        } catch {
            Self.errors.increment()
            // One line per outage, not one per request.
            guard !self.failing.exchange(true, ordering: .relaxed) else { return nil }
            self.logger.warning(
                "cannot ask the limiter about a login, refresh or revocation; letting it through",
                metadata: ["limiter.policy": "\(policy)", "error": "\(error)"]
            )
            return nil
        }
    }
}
