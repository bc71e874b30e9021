@testable import EdgeRouterCore
import Testing

/// The request timeout's bookkeeping, driven without sockets.
struct RequestDeadlineTests {
    let start = ContinuousClock.now

    @Test func aRequestStillOpenAtItsDeadlineClosesTheConnection() {
        var deadline = RequestDeadline(limit: .seconds(30))
        #expect(deadline.headRead(at: self.start) == .schedule(self.start + .seconds(30)))
        #expect(deadline.timerFired(at: self.start + .seconds(30)) == .close)
    }

    @Test func aTimerFiringWithNoRequestOpenIsNotSetAgain() {
        var deadline = RequestDeadline(limit: .seconds(30))
        _ = deadline.headRead(at: self.start)
        deadline.responseFinished()
        #expect(deadline.open.isEmpty)
        #expect(deadline.timerFired(at: self.start + .seconds(30)) == .none)
        #expect(deadline.headRead(at: self.start + .seconds(40)) == .schedule(self.start + .seconds(70)), "the next request sets it")
    }

    @Test func requestsAnsweredInTimeNeverMoveTheTimer() {
        var deadline = RequestDeadline(limit: .seconds(30))
        #expect(deadline.headRead(at: self.start) == .schedule(self.start + .seconds(30)))
        for second in 1...100 {
            deadline.responseFinished()
            #expect(deadline.headRead(at: self.start + .seconds(second)) == .none)
        }
        // At 30 s the open request is the one read at 100 s: the timer is set for its deadline.
        #expect(deadline.timerFired(at: self.start + .seconds(30)) == .schedule(self.start + .seconds(130)))
        deadline.responseFinished()
        #expect(deadline.timerFired(at: self.start + .seconds(130)) == .none)
    }

    @Test func pipelinedRequestsAreTimedOldestFirst() {
        var deadline = RequestDeadline(limit: .seconds(30))
        _ = deadline.headRead(at: self.start)
        #expect(deadline.headRead(at: self.start + .seconds(5)) == .none)
        deadline.responseFinished()
        #expect(deadline.timerFired(at: self.start + .seconds(30)) == .schedule(self.start + .seconds(35)), "then the next one's")
        #expect(deadline.timerFired(at: self.start + .seconds(35)) == .close)
    }

    @Test func aResponseWithoutARequestChangesNothing() {
        var deadline = RequestDeadline(limit: .seconds(1))
        deadline.responseFinished()
        #expect(deadline.open.isEmpty)
        #expect(deadline.timerFired(at: self.start) == .none)
    }
}
