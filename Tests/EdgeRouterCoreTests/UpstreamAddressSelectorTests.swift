@testable import EdgeRouterCore
import Testing

/// Round robin over an upstream's healthy addresses, with failing ones ejected for a while.
struct UpstreamAddressSelectorTests {
    let start = ContinuousClock.now

    static func picks(_ count: Int, _ selector: inout UpstreamAddressSelector, at now: ContinuousClock.Instant) -> [Int] {
        var picked: [Int] = []
        for _ in 0..<count { picked.append(selector.next(now: now)) }
        return picked
    }

    @Test func requestsGoRoundRobinOverTheAddresses() {
        var selector = UpstreamAddressSelector(count: 3, ejectAfter: 2, ejection: .seconds(10))
        let picked = Self.picks(6, &selector, at: self.start)
        #expect(picked == [0, 1, 2, 0, 1, 2])
    }

    @Test func consecutiveFailuresEjectAnAddressUntilItsTimeIsOver() {
        var selector = UpstreamAddressSelector(count: 3, ejectAfter: 2, ejection: .seconds(10))
        let first = selector.failed(1, now: self.start)
        selector.succeeded(1)
        let afterSuccess = selector.failed(1, now: self.start)
        let secondInARow = selector.failed(1, now: self.start)
        #expect(!first && !afterSuccess, "a success starts the count again")
        #expect(secondInARow, "the second failure in a row ejects")
        #expect(selector.isEjected(1, now: self.start + .seconds(9)))
        let whileEjected = Self.picks(4, &selector, at: self.start + .seconds(1))
        #expect(whileEjected == [0, 2, 0, 2])
        #expect(!selector.isEjected(1, now: self.start + .seconds(10)))
        let afterwards = Self.picks(3, &selector, at: self.start + .seconds(10))
        #expect(Set(afterwards) == [0, 1, 2], "back in the rotation")
    }

    @Test func aRetryGoesToAnotherAddress() {
        var selector = UpstreamAddressSelector(count: 2, ejectAfter: 5, ejection: .seconds(10))
        let first = selector.next(now: self.start)
        let retry = selector.next(now: self.start, excluding: first)
        #expect(retry != first)
        var single = UpstreamAddressSelector(count: 1, ejectAfter: 5, ejection: .seconds(10))
        let singleRetry = single.next(now: self.start, excluding: 0)
        #expect(singleRetry == 0, "one address: the retry goes to it again")
    }

    @Test func withEveryAddressEjectedTheOneBackSoonestIsTried() {
        var selector = UpstreamAddressSelector(count: 3, ejectAfter: 1, ejection: .seconds(10))
        selector.failed(0, now: self.start + .seconds(2))
        selector.failed(1, now: self.start)
        selector.failed(2, now: self.start + .seconds(1))
        let chosen = selector.next(now: self.start + .seconds(3))
        #expect(chosen == 1)
    }

    @Test func theActiveCheckMarksAnAddressUnhealthyAndHealthyAgainAfterItsThresholds() {
        var selector = UpstreamAddressSelector(count: 3, ejectAfter: 5, ejection: .seconds(10))
        let probe = { (selector: inout UpstreamAddressSelector, passed: Bool) in selector.probed(1, passed: passed, healthyAfter: 2, unhealthyAfter: 3) }
        #expect(selector.isProbedHealthy(1), "every address starts healthy")
        #expect(!probe(&selector, false) && !probe(&selector, false))
        #expect(!probe(&selector, true), "a passed probe starts the failures' count again")
        #expect(!probe(&selector, false) && !probe(&selector, false) && selector.isProbedHealthy(1))
        #expect(probe(&selector, false), "the third failed probe in a row")
        #expect(!selector.isProbedHealthy(1))
        #expect(Self.picks(4, &selector, at: self.start) == [0, 2, 0, 2], "no requests while unhealthy")
        selector.succeeded(1)
        #expect(!selector.isProbedHealthy(1), "a request's success does not overrule the check")
        #expect(!probe(&selector, true) && !selector.isProbedHealthy(1))
        #expect(probe(&selector, true) && selector.isProbedHealthy(1), "healthy again after two passed probes in a row")
        #expect(Set(Self.picks(3, &selector, at: self.start)) == [0, 1, 2])
    }

    @Test func whenNoAddressIsHealthyTheOnesNotEjectedAreTriedAnyway() {
        var selector = UpstreamAddressSelector(count: 3, ejectAfter: 1, ejection: .seconds(10))
        for index in 0..<3 { selector.probed(index, passed: false, healthyAfter: 1, unhealthyAfter: 1) }
        #expect(Self.picks(3, &selector, at: self.start) == [0, 1, 2], "round robin over all rather than refusing every request")
        selector.failed(0, now: self.start)
        #expect(Self.picks(4, &selector, at: self.start) == [1, 2, 1, 2], "an ejected one still waits out its ejection")
        // One healthy address left: it takes everything, even while the others are not ejected.
        selector.probed(2, passed: true, healthyAfter: 1, unhealthyAfter: 1)
        #expect(Self.picks(3, &selector, at: self.start + .seconds(20)) == [2, 2, 2])
    }
}
