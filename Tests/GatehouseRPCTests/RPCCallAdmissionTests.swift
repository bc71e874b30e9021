@testable import GatehouseRPC
import Testing

/// Which requests of one server connection run, wait or are refused, driven without sockets.
struct RPCCallAdmissionTests {
    @Test func callsBeyondTheBoundWaitInArrivalOrderAndTheConnectionIsNotRead() {
        var admission = RPCCallAdmission<Int>(maximum: 2)
        guard case .start(1) = admission.received(1), case .start(2) = admission.received(2) else {
            Issue.record("the first two run at once")
            return
        }
        #expect(!admission.mayRead, "at the bound, nothing more is read")
        guard case .wait = admission.received(3), case .wait = admission.received(4) else {
            Issue.record("the next ones wait")
            return
        }
        #expect(admission.finished() == 3)
        #expect(admission.finished() == 4)
        #expect(!admission.mayRead, "two run again")
        #expect(admission.finished() == nil)
        #expect(admission.mayRead)
        #expect(admission.running == 1)
    }

    @Test func drainingRefusesWaitingAndNewRequestsAndClosesWhenTheLastCallAnswers() {
        var admission = RPCCallAdmission<Int>(maximum: 1)
        _ = admission.received(1)
        _ = admission.received(2)
        #expect(admission.drain() == [2], "the waiting request is refused")
        guard case .refuse(3) = admission.received(3) else {
            Issue.record("a new request is refused")
            return
        }
        #expect(!admission.mayClose, "a call still runs")
        #expect(admission.finished() == nil)
        #expect(admission.mayClose)
    }

    @Test func anIdleConnectionMayCloseAsSoonAsDrainingBegins() {
        var admission = RPCCallAdmission<Int>(maximum: 4)
        #expect(!admission.mayClose)
        #expect(admission.drain().isEmpty)
        #expect(admission.mayClose)
    }
}
