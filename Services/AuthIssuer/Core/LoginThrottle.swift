import GatehouseLimiterAPI
import GatehouseRPC
import Logging
import Metrics
import Synchronization

/// Brute-force protection of the password grant: failed logins are counted by the limiter per username and
/// per client IP, and a login over either limit is refused before any password is checked.
///
/// Each check is a `limiter.Peek` (nothing charged); each failure a `limiter.Check` that charges one unit.
/// The two counters are separate limiter calls, because each is keyed by its own caller (a username's
/// counter must not depend on the address, nor the other way round). When the limiter cannot be reached
/// the login goes ahead (fail open, counted in `gatehouse_auth_login_throttle_errors_total` and logged):
/// a limiter outage must not lock every user out, and bcrypt still bounds the guessing rate.
public final class LoginThrottle: Sendable {
    private let limiter: RPCClient
    private let usernamePolicy: String
    private let ipPolicy: String
    private let logger: Logger
    private let failing = Atomic<Bool>(false)
    private static let errors = Counter(label: "gatehouse_auth_login_throttle_errors_total")

    /// Creates a throttle.
    /// - Parameters:
    ///   - limiter: The limiter's RPC client; its `run()` must be going.
    ///   - usernamePolicy: The policy counting failures per username; empty: not counted.
    ///   - ipPolicy: The policy counting failures per client IP; empty: not counted.
    ///   - logger: Receives limiter failures.
    public init(limiter: RPCClient, usernamePolicy: String, ipPolicy: String, logger: Logger) {
        self.limiter = limiter
        self.usernamePolicy = usernamePolicy
        self.ipPolicy = ipPolicy
        self.logger = logger
    }

    /// Whether a login may be tried now.
    /// - Returns: `nil` when it may; otherwise the seconds until it may (at least 1).
    public func retryAfter(username: String, clientIP: String) async -> Int? {
        async let byName = self.ask(LimiterMethods.peek, policy: self.usernamePolicy, caller: "user:\(username)", key: username)
        async let byAddress = self.ask(LimiterMethods.peek, policy: self.ipPolicy, caller: "ip:\(clientIP)", key: clientIP)
        let waits = [await byName, await byAddress].compactMap { $0 }
        return waits.max()
    }

    /// Counts one failed login against both the username and the address.
    public func recordFailure(username: String, clientIP: String) async {
        async let byName = self.ask(LimiterMethods.check, policy: self.usernamePolicy, caller: "user:\(username)", key: username)
        async let byAddress = self.ask(LimiterMethods.check, policy: self.ipPolicy, caller: "ip:\(clientIP)", key: clientIP)
        _ = await (byName, byAddress)
    }

    /// One limiter call; the seconds to wait when it denies, `nil` when it allows or fails.
    private func ask(
        _ method: RPCMethod<Gatehouse_Limiter_CheckRequest, Gatehouse_Limiter_CheckResponse>, policy: String, caller: String, key: String
    ) async -> Int? {
        guard !policy.isEmpty else { return nil }
        var item = Gatehouse_Limiter_CheckItem()
        item.policy = policy
        item.key = key
        var request = Gatehouse_Limiter_CheckRequest()
        request.caller = caller
        request.items = [item]
        do {
            let response = try await self.limiter.call(method, request)
            if self.failing.exchange(false, ordering: .relaxed) {
                self.logger.notice("the limiter answers again; logins are throttled again")
            }
            guard !response.allowed else { return nil }
            let retryAfterMs = response.statuses.first?.retryAfterMs ?? 1000
            return max(1, Int((retryAfterMs + 999) / 1000))
        } catch {
            Self.errors.increment()
            // One line per outage, not one per login.
            guard !self.failing.exchange(true, ordering: .relaxed) else { return nil }
            self.logger.warning(
                "cannot ask the limiter about a login; letting it through",
                metadata: ["limiter.policy": "\(policy)", "error": "\(error)"]
            )
            return nil
        }
    }
}
