@testable import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import Testing

/// The edge's held lease units, stepped through time without sockets.
struct LeaseTableTests {
    let start = ContinuousClock.now
    let user = LeaseTable.Key(policy: "user", key: "sub=alice")
    let route = LeaseTable.Key(policy: "per_route", key: "route=/v1/{collection}")

    /// The limiter's answer granting `granted` units per key for `lease`.
    func grant(_ granted: [Int], lease: Duration = .seconds(1), epoch: UInt64 = 0, remaining: Int = 900) -> LimiterDecision {
        let statuses = granted.enumerated().map { index, units in
            var status = LimiterDecision.PolicyStatus()
            status.policy = index == 0 ? "user" : "per_route"
            status.allowed = true
            status.limit = 1000
            status.windowSeconds = 60
            status.remaining = UInt32(remaining)
            status.resetMilliseconds = 60_000
            status.granted = UInt32(units)
            status.leaseMilliseconds = UInt64(lease / .milliseconds(1))
            status.epoch = epoch
            return status
        }
        return LimiterDecision(allowed: true, statuses: statuses, source: .redis)
    }

    /// The keys an acquire asks for; records an issue when the spend was anything else.
    static func wanted(_ spend: LeaseTable.Spend, sourceLocation: SourceLocation = #_sourceLocation) -> [LeaseTable.Want] {
        if case .acquire(let wants) = spend { return wants }
        Issue.record("expected an acquire, got \(spend)", sourceLocation: sourceLocation)
        return []
    }

    func denial(retryAfter: Duration) -> LimiterDecision {
        var status = LimiterDecision.PolicyStatus()
        status.policy = "user"
        status.allowed = false
        status.limit = 1000
        status.windowSeconds = 60
        status.retryAfterMilliseconds = UInt64(retryAfter / .milliseconds(1))
        status.resetMilliseconds = 60_000
        return LimiterDecision(allowed: false, statuses: [status], source: .redis)
    }

    @Test func aNewKeyAsksForItsCostAndASmallLeaseThenSpendsLocally() throws {
        var table = LeaseTable(initialWant: 4)
        guard case .acquire(let wants) = table.spend([.init(key: self.user, cost: 1)], now: self.start) else {
            Issue.record("a key never seen must be acquired")
            return
        }
        #expect(wants == [.init(key: self.user, cost: 1, extra: 4)])
        _ = table.granted(wants, response: self.grant([5]), sentAt: self.start, now: self.start)
        var spentLocally = 0
        for _ in 0..<5 {
            if case .spent = table.spend([.init(key: self.user, cost: 1)], now: self.start) { spentLocally += 1 }
        }
        #expect(spentLocally == 5)
        #expect(table.unitsHeld(at: self.start) == 0)
    }

    @Test func aRequestIsDebitedAllOrNothing() {
        var table = LeaseTable(initialWant: 0)
        let items: [LeaseTable.Item] = [.init(key: self.user, cost: 1), .init(key: self.route, cost: 1)]
        guard case .acquire(let wants) = table.spend(items, now: self.start) else {
            Issue.record("expected an acquire")
            return
        }
        _ = table.granted(wants, response: self.grant([3, 1]), sentAt: self.start, now: self.start)
        guard case .spent(_, let refill) = table.spend(items, now: self.start) else {
            Issue.record("both keys hold units: spent locally")
            return
        }
        // The route's single unit went at once: a refill of it goes out ahead of need, and a request meanwhile
        // waits for that refill.
        #expect(refill.map(\.key) == [self.route])
        guard case .wait(self.route) = table.spend(items, now: self.start) else {
            Issue.record("expected to wait for the route's refill")
            return
        }
        _ = table.acquireFailed(refill, now: self.start)
        // The refill got nothing: the next request acquires the route alone and leaves the user's balance alone.
        let next = Self.wanted(table.spend(items, now: self.start))
        #expect(next.map(\.key) == [self.route])
        #expect(table.unitsHeld(at: self.start) == 2)
    }

    @Test func aRequestShortOfAKeyBeingAcquiredWaitsForThatAcquire() {
        var table = LeaseTable()
        guard case .acquire = table.spend([.init(key: self.user, cost: 1)], now: self.start) else {
            Issue.record("expected an acquire")
            return
        }
        guard case .wait(let key) = table.spend([.init(key: self.user, cost: 1)], now: self.start) else {
            Issue.record("a second request must wait for the acquire under way, not make its own")
            return
        }
        #expect(key == self.user)
    }

    @Test func unitsAreNotSpentAfterTheirLeaseEnds() {
        var table = LeaseTable(initialWant: 9)
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        _ = table.granted(wants, response: self.grant([10], lease: .milliseconds(500)), sentAt: self.start, now: self.start)
        guard case .spent = table.spend([.init(key: self.user, cost: 1)], now: self.start + .milliseconds(499)) else {
            Issue.record("units within their lease are spent")
            return
        }
        guard case .acquire = table.spend([.init(key: self.user, cost: 1)], now: self.start + .milliseconds(500)) else {
            Issue.record("units past their lease must not be spent")
            return
        }
    }

    @Test func aDenialIsNotKeptByTheTableButByTheLimitersClient() {
        var table = LeaseTable()
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        let (_, outcome) = table.granted(
            wants, response: self.denial(retryAfter: .seconds(2)), sentAt: self.start, now: self.start, spending: [.init(key: self.user, cost: 1)]
        )
        guard case .denied(let response) = outcome else {
            Issue.record("the limiter's denial is the request's answer: \(String(describing: outcome))")
            return
        }
        #expect(!response.allowed && response.statuses[0].retryAfterMilliseconds == 2000)
        // The next request asks again: the client answers it from its memory of denials, with no call.
        #expect(Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start + .seconds(1))) == [.init(key: self.user, cost: 1, extra: 4)])
    }

    @Test func aShortKeyDeniedInMemoryStartsNoAcquireAndOnlyShortKeysAreAsked() {
        var table = LeaseTable(initialWant: 4)
        let both: [LeaseTable.Item] = [.init(key: self.user, cost: 1), .init(key: self.route, cost: 1)]
        let wants = Self.wanted(table.spend(both, now: self.start))
        _ = table.granted(wants, response: self.grant([5, 1], remaining: 900), sentAt: self.start, now: self.start, spending: both)
        // Only the route key is short: the memory is asked of it alone, and a denial there answers the request
        // with nothing marked as acquiring.
        var asked: [LeaseTable.Key] = []
        guard case .remembered = table.spend(both, now: self.start, remembered: { asked.append($0); return $0 == self.route }) else {
            Issue.record("a short key denied in memory is answered from it")
            return
        }
        #expect(asked == [self.route])
        #expect(table.unitsHeld(at: self.start) == 4, "nothing was debited")
        // Had an acquire been started, the next request would wait for it; it asks for one itself (its want
        // lowered to the single unit granted last time).
        let routeWant = Self.wanted(table.spend(both, now: self.start))
        #expect(routeWant == [.init(key: self.route, cost: 1, extra: 0)])
        // A caller that cannot wait is told it is short, and nothing is marked either.
        _ = table.acquireFailed(routeWant, now: self.start)
        guard case .short = table.spend(both, now: self.start, acquiring: false) else {
            Issue.record("a short key without acquiring is .short")
            return
        }
        #expect(Self.wanted(table.spend(both, now: self.start)) == routeWant, "the acquire was not marked as under way")
        // A key that holds units is spent from them, whatever the memory says.
        var grant = self.grant([3])
        grant.statuses[0].policy = "per_route"
        _ = table.granted(routeWant, response: grant, sentAt: self.start, now: self.start)
        guard case .spent = table.spend(both, now: self.start, remembered: { _ in true }) else {
            Issue.record("keys holding units are not asked of the memory")
            return
        }
    }

    @Test func aRememberedDenialChangesOnlyTheDeniedKeysAndTheOthersAreAnsweredAsTheyStand() {
        var table = LeaseTable(initialWant: 4)
        let both: [LeaseTable.Item] = [.init(key: self.user, cost: 1), .init(key: self.route, cost: 1)]
        let wants = Self.wanted(table.spend(both, now: self.start))
        _ = table.granted(wants, response: self.grant([5, 5], remaining: 900), sentAt: self.start, now: self.start, spending: both)
        // The route key is short again and the client remembers a denial of it; the user key did not ask.
        var remembered = self.denial(retryAfter: .seconds(2))
        remembered.statuses[0].policy = "per_route"
        remembered.source = .denialCache
        let routeOnly = [LeaseTable.Want(key: self.route, cost: 1, extra: 0)]
        let (_, outcome) = table.granted(routeOnly, response: remembered, sentAt: self.start, now: self.start + .milliseconds(100), spending: both)
        guard case .denied(let response) = outcome else {
            Issue.record("a remembered denial is the request's answer: \(String(describing: outcome))")
            return
        }
        #expect(response.source == .denialCache)
        #expect(response.statuses[0].allowed && response.statuses[0].limit == 1000 && response.statuses[0].remaining == 904, "\(response.statuses[0])")
        #expect(!response.statuses[1].allowed && response.statuses[1].policy == "per_route")
    }

    @Test func expiredUnitsOfARateAlgorithmGoBackAndAWindowsAreVoid() {
        var table = LeaseTable(initialWant: 9)
        let window = LeaseTable.Key(policy: "window", key: "ip=203.0.113.7")
        _ = table.spend([.init(key: self.user, cost: 1), .init(key: window, cost: 1)], now: self.start)
        var response = self.grant([10, 10], lease: .milliseconds(200))
        response.statuses[1].epoch = 1_700_000_000_000_000
        _ = table.granted(
            [.init(key: self.user, cost: 1, extra: 9), .init(key: window, cost: 1, extra: 9)], response: response, sentAt: self.start, now: self.start
        )
        let (returns, stranded) = table.sweep(now: self.start + .milliseconds(200))
        #expect(returns == [.init(key: self.user, units: 10, epoch: 0)])
        #expect(stranded == 10)
        #expect(table.unitsHeld(at: self.start + .milliseconds(200)) == 0)
    }

    @Test func anIdleKeysUnitsGoBackAndTheKeyIsForgotten() {
        var table = LeaseTable(initialWant: 9, idleAfter: .seconds(5))
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        _ = table.granted(wants, response: self.grant([10], lease: .seconds(30), epoch: 42), sentAt: self.start, now: self.start)
        _ = table.spend([.init(key: self.user, cost: 1)], now: self.start)
        #expect(table.sweep(now: self.start + .seconds(4)).returns.isEmpty)
        let (returns, _) = table.sweep(now: self.start + .seconds(5))
        #expect(returns == [.init(key: self.user, units: 9, epoch: 42)])
        #expect(table.count == 0)
    }

    @Test func aLeaseSpentInLessThanHalfItsTimeDoublesTheWant() {
        var table = LeaseTable(initialWant: 3)
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        #expect(wants[0].extra == 3)
        _ = table.granted(wants, response: self.grant([4]), sentAt: self.start, now: self.start)
        var refill: [LeaseTable.Want] = []
        for _ in 0..<4 {
            if case .spent(_, let wanted) = table.spend([.init(key: self.user, cost: 1)], now: self.start + .milliseconds(100)) {
                refill += wanted
            }
        }
        // A quarter of the want left: a refill went out ahead of need, and once spent out early the want doubled.
        #expect(refill.count == 1)
        _ = table.granted(refill, response: self.grant([0]), sentAt: self.start, now: self.start + .milliseconds(100))
        let next = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start + .milliseconds(100)))
        #expect(next[0].cost + next[0].extra == 8)
    }

    @Test func theHeadersCountWhatTheLimiterHadLeftAndWhatThisEdgeHolds() {
        var table = LeaseTable(initialWant: 9)
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        _ = table.granted(wants, response: self.grant([10], lease: .seconds(10), remaining: 500), sentAt: self.start, now: self.start)
        guard case .spent(let statuses, _) = table.spend([.init(key: self.user, cost: 1)], now: self.start + .seconds(2)) else {
            Issue.record("expected a local spend")
            return
        }
        #expect(statuses[0].remaining == 509)
        #expect(statuses[0].resetMilliseconds == 58_000)
        #expect(statuses[0].limit == 1000)
    }

    @Test func drainingReturnsEverythingHeld() {
        var table = LeaseTable(initialWant: 9)
        let wants = Self.wanted(table.spend([.init(key: self.user, cost: 1)], now: self.start))
        _ = table.granted(wants, response: self.grant([10], epoch: 7), sentAt: self.start, now: self.start)
        #expect(table.drain(now: self.start) == [.init(key: self.user, units: 10, epoch: 7)])
        #expect(table.count == 0)
    }

    @Test func aFullTableReturnsAndForgetsItsLeastRecentlyUsedEighthAtOnce() {
        var table = LeaseTable(initialWant: 0, capacity: 16)
        for index in 0..<16 {
            let key = LeaseTable.Key(policy: "user", key: "sub=\(index)")
            let now = self.start + .milliseconds(index)
            let wants = Self.wanted(table.spend([.init(key: key, cost: 1)], now: now))
            var response = self.grant([3], lease: .seconds(10))
            response.statuses[0].policy = "user"
            _ = table.granted(wants, response: response, sentAt: now, now: now, spending: [.init(key: key, cost: 1)])
        }
        #expect(table.count == 16)
        // The seventeenth key makes room: the two least used keys (an eighth) go, their units to be returned.
        let newcomer = LeaseTable.Key(policy: "user", key: "sub=new")
        _ = Self.wanted(table.spend([.init(key: newcomer, cost: 1)], now: self.start + .seconds(1)))
        #expect(table.count == 15)
        let (returns, _) = table.sweep(now: self.start + .seconds(1))
        #expect(returns == [
            .init(key: .init(policy: "user", key: "sub=0"), units: 2, epoch: 0), .init(key: .init(policy: "user", key: "sub=1"), units: 2, epoch: 0),
        ])
    }
}
