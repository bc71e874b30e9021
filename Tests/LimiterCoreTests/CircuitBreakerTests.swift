import LimiterCore
import Testing

@Suite struct CircuitBreakerTests {
    let start = ContinuousClock.now

    @Test func opensAfterTheThresholdAndSkipsRedisWhileOpen() {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: .milliseconds(500))
        for _ in 0..<2 { breaker.recordFailure(now: self.start) }
        #expect(breaker.state == .closed)
        let probe1 = breaker.shouldTryRedis(now: self.start)
        #expect(probe1)
        breaker.recordFailure(now: self.start)
        #expect(breaker.state == .open)
        let probe2 = breaker.shouldTryRedis(now: self.start + .milliseconds(499))
        #expect(!probe2)
    }

    @Test func letsOneProbeThroughAfterTheOpenDurationAndClosesOnSuccess() {
        var breaker = CircuitBreaker(failureThreshold: 1, openDuration: .milliseconds(500))
        breaker.recordFailure(now: self.start)
        let later = self.start + .milliseconds(500)
        let probe3 = breaker.shouldTryRedis(now: later)
        #expect(probe3)
        #expect(breaker.state == .halfOpen)
        let probe4 = breaker.shouldTryRedis(now: later)
        #expect(!probe4, "only one probe at a time")
        breaker.recordSuccess()
        #expect(breaker.state == .closed)
        let probe5 = breaker.shouldTryRedis(now: later)
        #expect(probe5)
    }

    @Test func aFailedProbeOpensItAgain() {
        var breaker = CircuitBreaker(failureThreshold: 5, openDuration: .milliseconds(500))
        for _ in 0..<5 { breaker.recordFailure(now: self.start) }
        let probeTime = self.start + .seconds(1)
        let probe6 = breaker.shouldTryRedis(now: probeTime)
        #expect(probe6)
        breaker.recordFailure(now: probeTime)
        #expect(breaker.state == .open)
        let probe7 = breaker.shouldTryRedis(now: probeTime + .milliseconds(100))
        #expect(!probe7)
    }

    @Test func aSuccessResetsTheFailureCount() {
        var breaker = CircuitBreaker(failureThreshold: 2)
        breaker.recordFailure(now: self.start)
        breaker.recordSuccess()
        breaker.recordFailure(now: self.start)
        #expect(breaker.state == .closed)
    }
}
