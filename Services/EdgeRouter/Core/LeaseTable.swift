import GatehouseLimiterAPI
import GatehouseLimiterPolicies

/// The rate-limit units this edge holds, per (policy, key), leased from the limiter (`limiter.AcquireBatch`):
/// a request is decided by debiting every one of its policies' balances locally, all or nothing, with no
/// network; only a balance that runs short asks the limiter, once per key however many requests wait.
///
/// A pure value, guarded by its owner's lock and driven with explicit instants, so tests step it through
/// time without sockets or sleeps.
///
/// - **Spending.** ``spend(_:now:)`` debits every item's cost from its balance when all of them have enough
///   units in an unexpired lease. Otherwise the short keys are marked as acquiring and returned, for one
///   acquire; a request short of a key whose acquire is under way waits for that one instead.
/// - **Lease sizes adapt.** Each key wants about what this edge spends of it per lease, and for the rate
///   algorithms at least what the budget refills in a lease period (``Item/minimumWant``): a new key asks for
///   ``initialWant`` units beyond the cost, a lease spent in less than half its time doubles the want, a lease
///   that expires with more than half its units unspent halves it, and a grant smaller than asked (the
///   limiter's cap, or the budget running out) lowers it to what was granted. When a balance falls to a
///   quarter of the want, a refill (cost 0) goes out ahead of need, off the request path.
/// - **Unspent units go back.** ``sweep(now:)`` drops expired leases (their units are returned when the
///   policy's algorithm is a rate algorithm, whose state takes them back; a window's units are void once
///   their window ended) and returns the units of keys idle for ``idleAfter``; ``drain()`` returns all at
///   shutdown.
///
/// Denials are not kept here: the limiter's client remembers them (``LimiterClient/rememberedDenial(of:at:)``).
/// ``spend(_:now:singleFlight:acquiring:remembered:)`` asks that memory about short keys before marking anything, so a
/// flooding caller's request is answered from it (``Spend/remembered``) without an acquire started and ended;
/// an answer from that memory (``LimiterDecision/Source/denialCache``) changes only the denied keys' state.
struct LeaseTable: Sendable {
    /// One policy's counter.
    struct Key: Hashable, Sendable {
        /// The policy's name.
        var policy: String
        /// The counter's key, from the policy's key parts.
        var key: String
    }

    /// One policy of a request and its cost.
    struct Item: Sendable {
        var key: Key
        var cost: Int
        /// The fewest units worth asking for beyond the cost (0: none): for the rate algorithms, what the
        /// budget refills in one lease period, since their leases last only until the budget would be full
        /// again, and a smaller grant would end before this edge could spend it.
        var minimumWant: Int = 0
    }

    /// One item of an acquire: the units needed now (`cost`, 0 for a refill ahead of need) and beyond.
    struct Want: Sendable, Equatable {
        var key: Key
        var cost: Int
        var extra: Int
    }

    /// Units to credit back to the limiter (`limiter.Release`).
    struct Return: Sendable, Equatable {
        var key: Key
        var units: Int
        var epoch: UInt64
    }

    /// What a request's spend came to.
    enum Spend: Sendable {
        /// Every item was debited; the statuses (one per item, for the headers) and the keys to refill ahead
        /// of need (already marked as acquiring).
        case spent(statuses: [LimiterDecision.PolicyStatus], refill: [Want])
        /// Short of units: acquire these (marked as acquiring; ``granted(_:response:sentAt:now:)`` or
        /// ``acquireFailed(_:now:)`` must follow).
        case acquire([Want])
        /// Short of units of `key`, whose acquire is under way: wait for it (``wait(for:_:)``), then spend again.
        case wait(Key)
        /// Short of units of a key the limiter's client remembers as denied: nothing was marked; the
        /// request is answered from that memory, with no acquire.
        case remembered
        /// Short of units, and told to start no acquire: nothing was marked.
        case short
    }

    private struct Entry {
        var balance = 0
        var expires: ContinuousClock.Instant
        var epoch: UInt64 = 0
        /// The limiter's last status for this key, as of `statusAt` (remaining: what it had not leased).
        var status: LimiterDecision.PolicyStatus?
        var statusAt: ContinuousClock.Instant
        var want: Int
        /// The item's ``Item/minimumWant``, as last given.
        var minimumWant = 0
        var leaseStart: ContinuousClock.Instant
        var leaseLength: Duration = .zero
        var granted = 0
        var spent = 0
        var acquiring = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var lastUsed: ContinuousClock.Instant

        init(now: ContinuousClock.Instant, want: Int) {
            (self.expires, self.statusAt, self.leaseStart, self.lastUsed) = (now, now, now, now)
            self.want = want
        }

        func spendable(at now: ContinuousClock.Instant) -> Int {
            self.expires > now ? self.balance : 0
        }
    }

    /// Extra units a key asks for on its first acquire.
    let initialWant: Int
    /// How long a key goes unused before its units are returned and it is forgotten.
    let idleAfter: Duration
    /// The most keys held; past it the least recently used eighth of the keys' units are returned and they are
    /// forgotten.
    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var pendingReturns: [Return] = []

    /// The largest want, whatever the spending rate (the limiter caps every grant anyway).
    static let maximumWant = 1 << 20

    /// Creates an empty table.
    /// - Parameters:
    ///   - initialWant: Extra units a key asks for on its first acquire (default 4).
    ///   - idleAfter: How long a key goes unused before its units are returned (default 5 s).
    ///   - capacity: The most keys held (default 100,000); when full, the least recently used eighth goes.
    init(initialWant: Int = 4, idleAfter: Duration = .seconds(5), capacity: Int = 100_000) {
        self.initialWant = max(0, initialWant)
        self.idleAfter = idleAfter
        self.capacity = max(1, capacity)
    }

    /// How many keys are held.
    var count: Int { self.entries.count }

    /// The units held in unexpired leases, over all keys.
    func unitsHeld(at now: ContinuousClock.Instant) -> Int {
        self.entries.values.reduce(0) { $0 + $1.spendable(at: now) }
    }

    /// Debits every item's cost from its balance, all or nothing; see ``Spend``.
    /// - Parameters:
    ///   - items: The request's policies and costs.
    ///   - now: The current time.
    ///   - singleFlight: Whether a short key is acquired by one request at a time (`false` for a limiter that
    ///     grants no leases, where each request must be decided on its own).
    ///   - acquiring: Whether short keys are marked as acquiring (``Spend/acquire(_:)``, ``Spend/wait(_:)``);
    ///     `false` answers ``Spend/short`` instead, for a caller that cannot wait.
    ///   - remembered: Whether a key is denied in the limiter's client's memory of denials; asked only of
    ///     short keys, before anything is marked, so that a flooding caller costs no acquire.
    mutating func spend(
        _ items: [Item], now: ContinuousClock.Instant, singleFlight: Bool = true, acquiring: Bool = true, remembered: (Key) -> Bool = { _ in false }
    ) -> Spend {
        // Each key is hashed once: its entry's position is kept and the entry read and debited in place there
        // (no entry is added or removed before the debits, so the positions stay valid).
        var positions: [Dictionary<Key, Entry>.Index] = []
        positions.reserveCapacity(items.count)
        var short: [Int] = []
        for (index, item) in items.enumerated() {
            guard let position = self.entries.index(forKey: item.key) else {
                short.append(index)
                continue
            }
            positions.append(position)
            if self.entries.values[position].spendable(at: now) < item.cost { short.append(index) }
        }
        guard short.isEmpty else {
            if short.contains(where: { remembered(items[$0].key) }) { return .remembered }
            guard acquiring else { return .short }
            for index in short where singleFlight && self.entries[items[index].key]?.acquiring == true {
                return .wait(items[index].key)
            }
            return .acquire(short.map { self.startAcquire(items[$0], now: now) })
        }
        var statuses: [LimiterDecision.PolicyStatus] = []
        statuses.reserveCapacity(items.count)
        var refill: [Want] = []
        for (item, position) in zip(items, positions) {
            statuses.append(Self.debit(item, from: &self.entries.values[position], now: now))
            if let extra = Self.refillDue(&self.entries.values[position]) {
                refill.append(Want(key: item.key, cost: 0, extra: extra))
            }
        }
        return .spent(statuses: statuses, refill: refill)
    }

    /// Registers `continuation` to be resumed when the acquire of `key` ends; `false` (and nothing kept) when
    /// none is under way any more, so the caller spends again at once.
    mutating func wait(for key: Key, _ continuation: CheckedContinuation<Void, Never>) -> Bool {
        guard self.entries[key]?.acquiring == true else { return false }
        self.entries[key]!.waiters.append(continuation)
        return true
    }

    /// What a request's own acquire came to.
    enum Outcome: Sendable {
        /// Allowed: every item was debited (the short ones from the grant, the others from their balances);
        /// one status per item, for the headers.
        case spent([LimiterDecision.PolicyStatus])
        /// Denied: the answer, with a status per item of the request.
        case denied(LimiterDecision)
        /// Allowed, but a balance the request also needed ran out meanwhile: spend again (the granted units
        /// are held).
        case retry
    }

    /// Applies the limiter's answer to an acquire of `wants`, sent at `sentAt`: granted units join the
    /// balances, leases counted from `sentAt`; an answer from the client's memory of denials changes only the
    /// denied keys' statuses. For a request's own acquire (`spending` its items), the request's cost is taken from the grant at once and its other
    /// items are debited from their balances, all or nothing; a grant with no lease (`lease_ms` 0: a
    /// fallback's, a remembered denial's or an older limiter's) is only ever spent this way.
    /// - Returns: The requests waiting for these keys, to resume, and for a request's own acquire its outcome.
    mutating func granted(
        _ wants: [Want], response: LimiterDecision, sentAt: ContinuousClock.Instant, now: ContinuousClock.Instant,
        spending items: [Item]? = nil
    ) -> (waiters: [CheckedContinuation<Void, Never>], outcome: Outcome?) {
        var waiters: [CheckedContinuation<Void, Never>] = []
        let spendsNow = items != nil && response.allowed
        for (want, status) in zip(wants, response.statuses) {
            guard var entry = self.entries[want.key] else { continue }
            entry.acquiring = false
            waiters += entry.waiters
            entry.waiters.removeAll()
            // A key that a remembered denial did not consult keeps what the limiter last said of it.
            if response.source != .denialCache || !status.allowed {
                entry.status = status
                entry.statusAt = now
            }
            let granted = Int(status.granted)
            // A request's cost comes out of its own grant; a shadow policy's grant may fall short of it.
            let held = spendsNow ? max(0, granted - want.cost) : granted
            if granted > 0 {
                entry.lastUsed = now
                if granted < want.cost + want.extra { entry.want = max(1, min(entry.want, granted)) }
            }
            if held > 0, status.leaseMilliseconds > 0 {
                if entry.spendable(at: now) == 0 || entry.epoch != status.epoch {
                    self.retire(want.key, &entry)
                    entry.leaseStart = sentAt
                    (entry.granted, entry.spent) = (0, 0)
                }
                entry.balance += held
                entry.granted += held
                entry.epoch = status.epoch
                entry.leaseLength = .milliseconds(Int64(clamping: status.leaseMilliseconds))
                entry.expires = sentAt + entry.leaseLength
            }
            self.entries[want.key] = entry
        }
        guard let items else { return (waiters, nil) }
        guard response.allowed else { return (waiters, .denied(self.answer(items, wants: wants, response: response, now: now))) }
        // The request's other items come out of their balances, all or nothing.
        let others = items.filter { item in !wants.contains { $0.key == item.key } }
        guard others.allSatisfy({ item in self.entries[item.key].map { $0.spendable(at: now) >= item.cost } ?? false }) else {
            for (want, status) in zip(wants, response.statuses) where status.leaseMilliseconds > 0 && Int(status.granted) >= want.cost {
                self.entries[want.key]?.balance += want.cost
            }
            return (waiters, .retry)
        }
        var statuses: [LimiterDecision.PolicyStatus] = []
        statuses.reserveCapacity(items.count)
        for item in items {
            if wants.contains(where: { $0.key == item.key }) {
                statuses.append(Self.status(of: self.entries[item.key]!, now: now))
            } else {
                statuses.append(Self.debit(item, from: &self.entries[item.key]!, now: now))
            }
        }
        return (waiters, .spent(statuses))
    }

    /// Ends an acquire of `wants` that got no answer.
    /// - Returns: The requests waiting for these keys, to resume.
    mutating func acquireFailed(_ wants: [Want], now: ContinuousClock.Instant) -> [CheckedContinuation<Void, Never>] {
        var waiters: [CheckedContinuation<Void, Never>] = []
        for want in wants where self.entries[want.key] != nil {
            self.entries[want.key]!.acquiring = false
            waiters += self.entries[want.key]!.waiters
            self.entries[want.key]!.waiters.removeAll()
        }
        return waiters
    }

    /// Debits `items` that a fallback (the limiter unreachable) admitted from what they hold, as far as it
    /// goes: units held are spent first, so they are not spent twice.
    mutating func spendHeld(_ items: [Item], now: ContinuousClock.Instant) {
        for item in items where self.entries[item.key] != nil {
            let spendable = self.entries[item.key]!.spendable(at: now)
            self.entries[item.key]!.balance -= min(spendable, item.cost)
            self.entries[item.key]!.lastUsed = now
        }
    }

    /// Expired leases dropped (their units returned for the rate algorithms) and idle keys forgotten (their
    /// units returned).
    /// - Returns: Units to credit back, and the units that expired unspent and cannot be.
    mutating func sweep(now: ContinuousClock.Instant) -> (returns: [Return], stranded: Int) {
        var returns = self.pendingReturns
        self.pendingReturns.removeAll()
        var stranded = 0
        for key in Array(self.entries.keys) {
            var entry = self.entries[key]!
            if entry.balance > 0, entry.expires <= now {
                stranded += self.retire(key, &entry)
            }
            let idle = now - entry.lastUsed >= self.idleAfter
            if idle, !entry.acquiring, entry.waiters.isEmpty {
                if entry.balance > 0 { returns.append(Return(key: key, units: entry.balance, epoch: entry.epoch)) }
                self.entries[key] = nil
            } else {
                self.entries[key] = entry
            }
        }
        returns += self.pendingReturns
        self.pendingReturns.removeAll()
        return (returns, stranded)
    }

    /// Everything held, to return at shutdown; the table is empty afterwards.
    mutating func drain(now: ContinuousClock.Instant) -> [Return] {
        var returns = self.pendingReturns
        for (key, entry) in self.entries where entry.spendable(at: now) > 0 {
            returns.append(Return(key: key, units: entry.balance, epoch: entry.epoch))
        }
        self.entries.removeAll()
        self.pendingReturns.removeAll()
        return returns
    }

    // MARK: Internals

    /// Marks `item`'s key as acquiring and says how much to ask for.
    private mutating func startAcquire(_ item: Item, now: ContinuousClock.Instant) -> Want {
        if self.entries[item.key] == nil {
            self.makeRoom(now: now)
            self.entries[item.key] = Entry(now: now, want: item.cost + self.initialWant)
        }
        self.entries[item.key]!.acquiring = true
        self.entries[item.key]!.lastUsed = now
        self.entries[item.key]!.minimumWant = item.minimumWant
        self.entries[item.key]!.want = max(self.entries[item.key]!.want, item.cost + item.minimumWant)
        let entry = self.entries[item.key]!
        let waiting = entry.waiters.count
        return Want(key: item.key, cost: item.cost, extra: max(0, entry.want + waiting - item.cost - entry.spendable(at: now)))
    }

    /// Debits `item` from `entry` (its balance is enough), notes the use, and doubles the want when a lease
    /// ran out in less than half its time.
    /// - Returns: The status for the headers.
    private static func debit(_ item: Item, from entry: inout Entry, now: ContinuousClock.Instant) -> LimiterDecision.PolicyStatus {
        entry.lastUsed = now
        entry.balance -= item.cost
        entry.spent += item.cost
        if entry.balance == 0, entry.leaseLength > .zero, (now - entry.leaseStart) * 2 < entry.leaseLength {
            entry.want = min(Self.maximumWant, entry.want * 2)
        }
        return Self.status(of: entry, now: now)
    }

    /// Marks `entry` as acquiring when its balance fell to a quarter of its want and no acquire is under way.
    /// - Returns: The units to ask for ahead of need, or `nil`.
    private static func refillDue(_ entry: inout Entry) -> Int? {
        guard !entry.acquiring, entry.want > 1, entry.balance * 4 <= entry.want else { return nil }
        entry.acquiring = true
        return entry.want - entry.balance
    }

    /// Ends `entry`'s current lease: its unspent units are returned (rate algorithms, epoch 0) or void (a
    /// window's, whose window has ended or is ending), and a lease mostly unspent halves the want.
    /// - Returns: The units that could not be returned.
    @discardableResult
    private mutating func retire(_ key: Key, _ entry: inout Entry) -> Int {
        guard entry.balance > 0 else { return 0 }
        if entry.spent * 2 < entry.granted { entry.want = max(1, entry.minimumWant, entry.want / 2) }
        var stranded = 0
        if entry.epoch == 0 {
            self.pendingReturns.append(Return(key: key, units: entry.balance, epoch: 0))
        } else {
            stranded = entry.balance
        }
        entry.balance = 0
        return stranded
    }

    /// When the table is full, forgets its least recently used eighth (returning their units): one pass over
    /// the table per `capacity / 8` new keys, not one per new key, so a flood of new callers costs each of
    /// them little. Keys with an acquire under way or waiters stay.
    private mutating func makeRoom(now: ContinuousClock.Instant) {
        guard self.entries.count >= self.capacity else { return }
        var candidates = self.entries.compactMap { key, entry in
            !entry.acquiring && entry.waiters.isEmpty ? (key: key, lastUsed: entry.lastUsed) : nil
        }
        candidates.sort { $0.lastUsed < $1.lastUsed }
        for candidate in candidates.prefix(max(1, self.capacity / 8)) {
            guard let entry = self.entries.removeValue(forKey: candidate.key) else { continue }
            if entry.spendable(at: now) > 0 {
                self.pendingReturns.append(Return(key: candidate.key, units: entry.balance, epoch: entry.epoch))
            }
        }
    }

    /// The header status of a key after a debit: what the limiter had not leased when it last answered plus
    /// what this edge still holds, and the reset counted down since.
    private static func status(of entry: Entry, now: ContinuousClock.Instant) -> LimiterDecision.PolicyStatus {
        var status = entry.status ?? LimiterDecision.PolicyStatus()
        status.allowed = true
        status.remaining = UInt32(clamping: min(Int(status.limit), Int(status.remaining) + entry.balance))
        status.resetMilliseconds = status.resetMilliseconds - min(status.resetMilliseconds, UInt64((now - entry.statusAt).wholeMillisecondsDown))
        status.retryAfterMilliseconds = 0
        status.granted = 0
        return status
    }

    /// The answer to a request whose acquire of `wants` was denied: the limiter's statuses for those, the
    /// other items (and, for a remembered denial, the keys it did not consult) as they stand.
    func answer(
        _ items: [Item], wants: [Want], response: LimiterDecision, now: ContinuousClock.Instant
    ) -> LimiterDecision {
        let statuses = items.map { item in
            if let index = wants.firstIndex(where: { $0.key == item.key }), index < response.statuses.count,
                response.source != .denialCache || !response.statuses[index].allowed
            {
                return response.statuses[index]
            }
            guard let entry = self.entries[item.key], entry.status != nil else {
                var unknown = LimiterDecision.PolicyStatus()
                unknown.policy = item.key.policy
                unknown.allowed = true
                return unknown
            }
            return Self.status(of: entry, now: now)
        }
        return LimiterDecision(allowed: false, statuses: statuses, source: response.source)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down; zero for negative durations.
    var wholeMillisecondsDown: Int {
        let (seconds, attoseconds) = self.components
        return max(0, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
