@testable import EdgeRouterCore
import Testing

/// The request timeout's bookkeeping, driven without sockets.
struct RequestDeadlineTests {
    let start = ContinuousClock.now

    @Test func theTimerRunsFromTheHeadUntilTheResponseEnds() {
        var deadline = RequestDeadline(limit: .seconds(30))
        #expect(deadline.headRead(at: self.start) == .schedule(self.start + .seconds(30)))
        #expect(deadline.responseFinished() == .cancel)
        #expect(deadline.open.isEmpty)
    }

    @Test func pipelinedRequestsAreTimedOldestFirst() {
        var deadline = RequestDeadline(limit: .seconds(30))
        _ = deadline.headRead(at: self.start)
        #expect(deadline.headRead(at: self.start + .seconds(5)) == .none, "the oldest request's timer stays")
        #expect(deadline.responseFinished() == .schedule(self.start + .seconds(35)), "then the next one's")
        #expect(deadline.responseFinished() == .cancel)
    }

    @Test func aResponseWithoutARequestChangesNothing() {
        var deadline = RequestDeadline(limit: .seconds(1))
        #expect(deadline.responseFinished() == .none)
    }
}
