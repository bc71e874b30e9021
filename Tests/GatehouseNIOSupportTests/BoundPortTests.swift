import GatehouseNIOSupport
import Testing

@Suite struct BoundPortTests {
    @Test func wakesEveryWaiterAndAnswersLaterCallersAtOnce() async throws {
        let port = BoundPort()
        try await withThrowingTaskGroup { tasks in
            for _ in 0..<3 {
                tasks.addTask {
                    let value = try await port.value()
                    #expect(value == 4242)
                }
            }
            port.announce(4242)
            port.announce(1)
            try await tasks.waitForAll()
        }
        let later = try await port.value()
        #expect(later == 4242, "the first announcement stays")
    }

    @Test func aCancelledWaiterStopsWaiting() async throws {
        let port = BoundPort()
        let waiter = Task { try await port.value() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }
}
