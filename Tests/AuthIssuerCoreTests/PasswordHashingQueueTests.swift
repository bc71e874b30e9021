@testable import AuthIssuerCore
import Dispatch
import Synchronization
import Testing

/// The bound on bcrypt work: a fixed number of hashes run, a fixed number wait, the rest are refused at once.
@Suite(.timeLimit(.minutes(1)))
struct PasswordHashingQueueTests {
    /// Work that blocks its pool thread until released, so the test decides when a turn ends.
    final class BlockingWork: Sendable {
        private let release = DispatchSemaphore(value: 0)
        let started = Atomic<Int>(0)

        func run(_ value: Int) -> Int {
            self.started.add(1, ordering: .relaxed)
            self.release.wait()
            return value
        }

        func finish(_ count: Int) {
            for _ in 0..<count { self.release.signal() }
        }
    }

    /// Waits (without a time assertion) until the queue holds what the test expects.
    private func waitUntil(_ queue: PasswordHashingQueue, running: Int, waiting: Int) async throws {
        while queue.occupancy != (running, waiting) {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func pastTheRunningAndWaitingHashesAThirdIsRefusedAtOnceWithARetryAfter() async throws {
        let queue = PasswordHashingQueue(concurrency: 1, waitingLimit: 1)
        let work = BlockingWork()
        let first = Task { try await queue.run { work.run(1) } }
        try await self.waitUntil(queue, running: 1, waiting: 0)
        let second = Task { try await queue.run { work.run(2) } }
        try await self.waitUntil(queue, running: 1, waiting: 1)

        let refused = await #expect(throws: PasswordHashingQueueFull.self) { try await queue.run { 3 } }
        #expect((refused?.retryAfterSeconds ?? 0) >= 1)
        #expect(refused?.description.contains("retry after") == true)
        #expect(work.started.load(ordering: .relaxed) == 1, "only one hash runs at once")

        work.finish(2)
        #expect(try await first.value == 1)
        #expect(try await second.value == 2, "the waiting hash ran once the first ended")
        try await self.waitUntil(queue, running: 0, waiting: 0)
        #expect(try await queue.run { 4 } == 4, "with the queue empty again, a hash runs")
    }

    @Test func aCancelledWaiterLeavesTheQueueAndFreesItsPlace() async throws {
        let queue = PasswordHashingQueue(concurrency: 1, waitingLimit: 1)
        let work = BlockingWork()
        let first = Task { try await queue.run { work.run(1) } }
        try await self.waitUntil(queue, running: 1, waiting: 0)
        let waiter = Task { try await queue.run { work.run(2) } }
        try await self.waitUntil(queue, running: 1, waiting: 1)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        try await self.waitUntil(queue, running: 1, waiting: 0)
        // Its place is free: another hash may wait again.
        let next = Task { try await queue.run { work.run(3) } }
        try await self.waitUntil(queue, running: 1, waiting: 1)
        work.finish(2)
        #expect(try await first.value == 1)
        #expect(try await next.value == 3)
        #expect(work.started.load(ordering: .relaxed) == 2, "the cancelled hash never ran")
    }
}
