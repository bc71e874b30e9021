import GatehouseObservability
import Testing

@Suite("ReadinessCheck")
struct ReadinessCheckTests {
    struct Unreachable: Error {}

    @Test("returning true passes, false fails, throwing fails with the error")
    func outcomes() async {
        #expect(await ReadinessCheck(name: "a") { true }.evaluate() == ReadinessCheckResult(name: "a", outcome: .passed))
        #expect(await ReadinessCheck(name: "b") { false }.evaluate().outcome == .failed)
        #expect(await ReadinessCheck(name: "c") { throw Unreachable() }.evaluate().outcome == .threw("Unreachable()"))
    }

    @Test("a check that ignores cancellation still fails at its timeout")
    func timeout() async {
        let check = ReadinessCheck(name: "slow", timeout: .milliseconds(100)) {
            // A detached task is not cancelled with its waiter: this check ignores cancellation.
            await Task.detached { try? await Task.sleep(for: .seconds(3)) }.value
            return true
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = await check.evaluate()
        #expect(result.outcome == .timedOut(.milliseconds(100)))
        #expect(clock.now - start < .seconds(2))
    }
}
