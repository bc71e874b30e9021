/// Which of an HTTP upstream's addresses gets the next request: round robin over the healthy ones, with
/// passive health checking (as Envoy's outlier detection and NGINX's `max_fails`/`fail_timeout` do) and,
/// when the route configures one, the verdicts of an active health check (``UpstreamHealthProbe``).
///
/// `ejectAfter` consecutive failures of an address (a refused or broken connection, a timeout, a 5xx
/// answer that the caller counts) eject it for `ejection`; its next success resets the count. When every
/// address is ejected, the one whose ejection ends first is chosen anyway, so a recovering upstream is found
/// again without waiting for the longest ejection (and a single-address upstream is always tried).
///
/// An address the active check marked unhealthy (``probed(_:passed:healthyAfter:unhealthyAfter:)``: that
/// many failed probes in a row; healthy again after that many passed ones; every address starts healthy)
/// gets no requests while another address is neither unhealthy nor ejected. When none is, the addresses
/// that are not ejected are used anyway, round robin, rather than refusing every request: a health
/// endpoint that fails while the API answers (a dependency the API does not need for every request, a
/// wrong `path`) must not take the route down, and a request that really fails is a `502` all the same.
///
/// A value type driven with explicit times, so tests need no clock; the HTTP upstream keeps it under a lock.
struct UpstreamAddressSelector: Sendable, Equatable {
    private struct Health: Sendable, Equatable {
        var consecutiveFailures = 0
        var ejectedUntil: ContinuousClock.Instant?
        /// The active check's verdict, and how many probes in a row disagreed with it.
        var probedHealthy = true
        var probeStreak = 0
    }

    private var health: [Health]
    private var nextIndex = 0
    private let ejectAfter: Int
    private let ejection: Duration

    /// Creates a selector over `count` addresses, all healthy.
    init(count: Int, ejectAfter: Int, ejection: Duration) {
        precondition(count > 0 && ejectAfter > 0, "an upstream has at least one address and ejects after at least one failure")
        self.health = Array(repeating: Health(), count: count)
        self.ejectAfter = ejectAfter
        self.ejection = ejection
    }

    /// The address for the next request (an index), other than `excluded` when another one is available
    /// (a retry goes to a different address).
    mutating func next(now: ContinuousClock.Instant, excluding excluded: Int? = nil) -> Int {
        let count = self.health.count
        // Healthy by the active check first; when none is, any that is not ejected.
        for requireProbedHealthy in [true, false] {
            for step in 0..<count {
                let index = (self.nextIndex + step) % count
                guard index != excluded || count == 1, !requireProbedHealthy || self.health[index].probedHealthy else { continue }
                if let until = self.health[index].ejectedUntil, until > now { continue }
                self.health[index].ejectedUntil = nil
                self.nextIndex = (index + 1) % count
                return index
            }
        }
        // Every candidate is ejected: the one back soonest.
        let candidates = self.health.indices.filter { $0 != excluded || count == 1 }
        return candidates.min { (self.health[$0].ejectedUntil ?? now) < (self.health[$1].ejectedUntil ?? now) } ?? 0
    }

    /// Whether the address is ejected at `now`.
    func isEjected(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        self.health[index].ejectedUntil.map { $0 > now } ?? false
    }

    /// Whether the active check marks the address healthy (always, without one).
    func isProbedHealthy(_ index: Int) -> Bool {
        self.health[index].probedHealthy
    }

    /// Records an answer from the address: its failure count starts again.
    mutating func succeeded(_ index: Int) {
        self.health[index].consecutiveFailures = 0
        self.health[index].ejectedUntil = nil
    }

    /// Records the outcome of an active health probe of the address: `unhealthyAfter` failed probes in a
    /// row mark a healthy address unhealthy, `healthyAfter` passed ones in a row mark it healthy again.
    /// - Returns: Whether the verdict changed.
    @discardableResult
    mutating func probed(_ index: Int, passed: Bool, healthyAfter: Int, unhealthyAfter: Int) -> Bool {
        guard passed != self.health[index].probedHealthy else {
            self.health[index].probeStreak = 0
            return false
        }
        self.health[index].probeStreak += 1
        guard self.health[index].probeStreak >= (passed ? healthyAfter : unhealthyAfter) else { return false }
        self.health[index].probedHealthy = passed
        self.health[index].probeStreak = 0
        return true
    }

    /// Records a failure of the address; the `ejectAfter`-th in a row ejects it until `now + ejection`.
    /// - Returns: Whether this failure ejected it.
    @discardableResult
    mutating func failed(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        self.health[index].consecutiveFailures += 1
        guard self.health[index].consecutiveFailures >= self.ejectAfter else { return false }
        self.health[index].consecutiveFailures = 0
        self.health[index].ejectedUntil = now + self.ejection
        return true
    }
}
