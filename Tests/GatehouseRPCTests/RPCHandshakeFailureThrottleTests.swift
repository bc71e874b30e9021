@testable import GatehouseRPC
import Testing

@Suite struct RPCHandshakeFailureThrottleTests {
    @Test func theThrottleLogsOncePerAddressPerIntervalAndCountsWhatItLeftOut() {
        var throttle = RPCHandshakeFailureThrottle(interval: .seconds(10), maximumAddresses: 2)
        let start = ContinuousClock.now
        #expect(throttle.failed(address: "10.0.0.1", at: start) == .log(suppressed: 0))
        #expect(throttle.failed(address: "10.0.0.1", at: start + .seconds(1)) == .suppress)
        #expect(throttle.failed(address: "10.0.0.1", at: start + .seconds(9)) == .suppress)
        #expect(throttle.failed(address: "10.0.0.2", at: start + .seconds(9)) == .log(suppressed: 0), "each address has its own interval")
        #expect(throttle.failed(address: "10.0.0.1", at: start + .seconds(10)) == .log(suppressed: 2))
        #expect(throttle.failed(address: "10.0.0.1", at: start + .seconds(11)) == .suppress)
        // Full (two addresses within their interval): a third is not logged until one of them expires.
        #expect(throttle.failed(address: "10.0.0.3", at: start + .seconds(12)) == .suppress)
        #expect(throttle.failed(address: "10.0.0.3", at: start + .seconds(21)) == .suppress, "at most one pass over all addresses per interval")
        #expect(throttle.failed(address: "10.0.0.3", at: start + .seconds(22)) == .log(suppressed: 0))
    }
}
