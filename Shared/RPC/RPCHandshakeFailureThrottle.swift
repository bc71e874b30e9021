/// Which failed handshakes an ``RPCServer`` logs: at most one line per peer address per ``interval``, that
/// line saying how many failures from the address were not logged since its previous one.
///
/// A pure state machine: the server drives it under a lock with the current instant, tests with instants of
/// their choosing. It remembers at most ``maximumAddresses`` addresses; when that many have failed within one
/// interval, failures from further addresses are not logged either (the server's metric counts every failure).
struct RPCHandshakeFailureThrottle {
    /// What to do about one failed handshake.
    enum Decision: Equatable {
        /// Log it, with how many failures from the same address were not logged since its previous line.
        case log(suppressed: Int)
        /// Do not log it; the address's next line counts it.
        case suppress
    }

    private struct Entry {
        var loggedAt: ContinuousClock.Instant
        var suppressed: Int
    }

    /// How long after a logged failure further failures from that address are not logged: 10 s.
    let interval: Duration
    /// The most addresses remembered at once.
    let maximumAddresses: Int
    private var addresses: [String: Entry] = [:]
    private var prunedAt: ContinuousClock.Instant?

    init(interval: Duration = .seconds(10), maximumAddresses: Int = 10_000) {
        self.interval = interval
        self.maximumAddresses = maximumAddresses
    }

    /// A handshake from `address` failed at `now`.
    mutating func failed(address: String, at now: ContinuousClock.Instant) -> Decision {
        if var entry = self.addresses[address] {
            guard now - entry.loggedAt >= self.interval else {
                entry.suppressed += 1
                self.addresses[address] = entry
                return .suppress
            }
            self.addresses[address] = Entry(loggedAt: now, suppressed: 0)
            return .log(suppressed: entry.suppressed)
        }
        if self.addresses.count >= self.maximumAddresses {
            // Forget the addresses whose interval has passed, at most once an interval (each pass costs a walk over all).
            guard self.prunedAt.map({ now - $0 >= self.interval }) ?? true else { return .suppress }
            self.prunedAt = now
            self.addresses = self.addresses.filter { now - $0.value.loggedAt < self.interval }
            guard self.addresses.count < self.maximumAddresses else { return .suppress }
        }
        self.addresses[address] = Entry(loggedAt: now, suppressed: 0)
        return .log(suppressed: 0)
    }
}
