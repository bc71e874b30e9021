@testable import EdgeRouterCore
import Testing

/// The head timeout's bookkeeping, driven without sockets: raw reads before the decoder, heads and ends after it.
struct RequestHeadDeadlineTests {
    let start = ContinuousClock.now

    @Test func aHeadTrickledInByteByByteIsCutOffAtItsDeadlineFromTheFirstByte() {
        var deadline = RequestHeadDeadline(limit: .seconds(10))
        #expect(deadline.bytesRead(at: self.start) == .schedule(self.start + .seconds(10)))
        // One byte every half second: each read is a read, none moves the deadline.
        for tick in 1..<20 {
            #expect(deadline.bytesRead(at: self.start + .milliseconds(500 * tick)) == .none)
        }
        #expect(deadline.timerFired(at: self.start + .seconds(10)) == .close)
    }

    @Test func aHeadCompleteInTimeStopsTheClockAndTheBodyDoesNotStartIt() {
        var deadline = RequestHeadDeadline(limit: .seconds(10))
        _ = deadline.bytesRead(at: self.start)
        deadline.headDecoded()
        #expect(deadline.deadline == nil)
        // A body trickling in is the request timeout's to bound, not the head timeout's.
        #expect(deadline.bytesRead(at: self.start + .seconds(5)) == .none)
        #expect(deadline.timerFired(at: self.start + .seconds(10)) == .none, "no head in progress: not set again")
        #expect(deadline.bytesRead(at: self.start + .seconds(60)) == .none, "still inside the request")
        deadline.endDecoded()
        #expect(deadline.deadline == nil, "between requests, with no byte yet, the idle timeout applies")
        #expect(deadline.bytesRead(at: self.start + .seconds(70)) == .schedule(self.start + .seconds(80)), "the next head's first byte")
    }

    @Test func keepAliveRequestsNeverMoveTheTimer() {
        var deadline = RequestHeadDeadline(limit: .seconds(10))
        #expect(deadline.bytesRead(at: self.start) == .schedule(self.start + .seconds(10)))
        deadline.headDecoded()
        deadline.endDecoded()
        for second in 1...25 {
            #expect(deadline.bytesRead(at: self.start + .seconds(second)) == .none, "the timer is already set")
            deadline.headDecoded()
            deadline.endDecoded()
        }
        // A head begun at 30 s is still in progress when the timer fires at 10 s: set again for its deadline.
        _ = deadline.bytesRead(at: self.start + .seconds(30))
        #expect(deadline.timerFired(at: self.start + .seconds(10)) == .schedule(self.start + .seconds(40)))
        #expect(deadline.timerFired(at: self.start + .seconds(40)) == .close)
    }

    @Test func pipelinedRequestsDecodedFromOneReadNeedNoTimer() {
        var deadline = RequestHeadDeadline(limit: .seconds(10))
        _ = deadline.bytesRead(at: self.start)
        for _ in 0..<3 {
            deadline.headDecoded()
            deadline.endDecoded()
        }
        #expect(deadline.timerFired(at: self.start + .seconds(10)) == .none)
    }

    @Test func aTimerWithNothingInProgressIsNotSetAgain() {
        var deadline = RequestHeadDeadline(limit: .seconds(1))
        #expect(deadline.timerFired(at: self.start) == .none)
        #expect(deadline.bytesRead(at: self.start) == .schedule(self.start + .seconds(1)))
    }
}
