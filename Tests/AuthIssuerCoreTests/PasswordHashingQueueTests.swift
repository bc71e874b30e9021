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
        private let released = Atomic<Bool>(false)
        let started = Atomic<Int>(0)

        func run(_ value: Int) -> Int {
            self.started.add(1, ordering: .relaxed)
            if !self.released.load(ordering: .relaxed) { self.release.wait() }
            return value
        }

        /// Lets every blocked and later run go on.
        func finishAll() {
            self.released.store(true, ordering: .relaxed)
            for _ in 0..<8 { self.release.signal() }
        }
    }

    /// Waits (without a time assertion) until `condition` holds.
    private func waitUntil(_ condition: () -> Bool) async throws {
        while !condition() {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func pastTheRunningAndWaitingHashesAThirdIsRefusedAtOnceWithARetryAfter() async throws {
        let queue = PasswordHashingQueue(concurrency: 1, waitingLimit: 1)
        let work = BlockingWork()
        defer { work.finishAll() }
        let first = Task { try await queue.run { work.run(1) } }
        try await self.waitUntil { work.started.load(ordering: .relaxed) == 1 }
        let second = Task { try await queue.run { work.run(2) } }
        // The second either waits in the queue or, without a bound, starts at once.
        try await self.waitUntil { queue.occupancy.waiting == 1 || work.started.load(ordering: .relaxed) == 2 }
        try #require(work.started.load(ordering: .relaxed) == 1, "only one hash runs at once; the second waits")

        let refused = await #expect(throws: PasswordHashingQueueFull.self) { try await queue.run { 3 } }
        #expect((refused?.retryAfterSeconds ?? 0) >= 1)
        #expect(refused?.description.contains("retry after") == true)

        work.finishAll()
        #expect(try await first.value == 1)
        #expect(try await second.value == 2, "the waiting hash ran once the first ended")
        try await self.waitUntil { queue.occupancy == (0, 0) }
        #expect(try await queue.run { 4 } == 4, "with the queue empty again, a hash runs")
    }

    @Test func aCancelledWaiterLeavesTheQueueAndFreesItsPlace() async throws {
        let queue = PasswordHashingQueue(concurrency: 1, waitingLimit: 1)
        let work = BlockingWork()
        defer { work.finishAll() }
        let first = Task { try await queue.run { work.run(1) } }
        try await self.waitUntil { work.started.load(ordering: .relaxed) == 1 }
        let waiter = Task { try await queue.run { work.run(2) } }
        try await self.waitUntil { queue.occupancy.waiting == 1 || work.started.load(ordering: .relaxed) == 2 }
        try #require(work.started.load(ordering: .relaxed) == 1, "the second hash waits")
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(queue.occupancy == (1, 0), "the cancelled waiter left the queue")
        // Its place is free: another hash may wait again.
        let next = Task { try await queue.run { work.run(3) } }
        try await self.waitUntil { queue.occupancy == (1, 1) }
        work.finishAll()
        #expect(try await first.value == 1)
        #expect(try await next.value == 3)
        #expect(work.started.load(ordering: .relaxed) == 2, "the cancelled hash never ran")
    }
}
