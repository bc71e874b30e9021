import GatehouseNIOSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite struct CallBatcherTests {
    /// A peer that doubles each request and records the size of every call it receives.
    final class RecordingPeer: Sendable {
        let calls = Mutex<[[Int]]>([])
        /// While set, calls wait for `release()` before they answer.
        private let gate = Mutex<[CheckedContinuation<Void, Never>]?>(nil)

        func hold() { self.gate.withLock { $0 = [] } }

        func release() {
            let waiting = self.gate.withLock { gate in
                defer { gate = nil }
                return gate ?? []
            }
            for continuation in waiting { continuation.resume() }
        }

        func send(_ requests: [Int]) async throws -> [Int] {
            self.calls.withLock { $0.append(requests) }
            await withCheckedContinuation { continuation in
                let held = self.gate.withLock { gate in
                    guard gate != nil else { return false }
                    gate!.append(continuation)
                    return true
                }
                if !held { continuation.resume() }
            }
            return requests.map { $0 * 2 }
        }
    }

    struct PeerDown: Error {}

    @Test func requestsSubmittedByOneTickOfAnEventLoopGoOutInOneCall() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let executor = EventLoopTaskExecutor(eventLoop: loop)
        let peer = RecordingPeer()
        let batcher = CallBatcher<Int, Int> { try await peer.send($0) }
        // Ten tasks queued on the loop at once, as one socket read's requests are.
        let answers = try await loop.submit {
            (1...10).map { request in Task(executorPreference: executor) { try await batcher.submit(request) } }
        }.get()
        var results: [Int] = []
        for answer in answers { results.append(try await answer.value) }
        #expect(results == (1...10).map { $0 * 2 }, "each caller gets its own answer")
        #expect(peer.calls.withLock { $0 } == [Array(1...10)], "one call carries the whole tick, in order")
        try await group.shutdownGracefully()
    }

    @Test func aRequestAloneOnAnEventLoopOrOffTheLoopsGoesOutAtOnceAlone() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let executor = EventLoopTaskExecutor(eventLoop: group.next())
        let peer = RecordingPeer()
        let batcher = CallBatcher<Int, Int> { try await peer.send($0) }
        #expect(try await Task(executorPreference: executor) { try await batcher.submit(1) }.value == 2)
        #expect(try await batcher.submit(2) == 4)
        #expect(try await Task(executorPreference: executor) { try await batcher.submit(3) }.value == 6)
        #expect(peer.calls.withLock { $0 } == [[1], [2], [3]])
        try await group.shutdownGracefully()
    }

    @Test func eachEventLoopSendsItsOwnRequestsInItsOwnCallsWithoutWaitingForTheOthers() async throws {
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator().prefix(2))
        try #require(loops.count == 2, "the singleton group has a loop per core; this machine needs two")
        let peer = RecordingPeer()
        peer.hold()
        let senders = Mutex<[[Int]: ObjectIdentifier]>([:])
        let batcher = CallBatcher<Int, Int>(maximumCallsInFlight: 1) { requests in
            let loop = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
            senders.withLock { $0[requests] = loop }
            return try await peer.send(requests)
        }
        // Each loop submits five requests in one tick, as one socket read's requests are.
        var answers: [Task<Int, any Error>] = []
        for (loop, first) in zip(loops, [1, 11]) {
            let executor = EventLoopTaskExecutor(eventLoop: loop)
            answers += try await loop.submit {
                (first..<first + 5).map { request in Task(executorPreference: executor) { try await batcher.submit(request) } }
            }.get()
        }
        // One call in flight per loop: the second loop's call goes out while the first loop's is held.
        let deadline = ContinuousClock.now + .seconds(5)
        while peer.calls.withLock({ $0.count }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(peer.calls.withLock { $0.count } == 2, "both loops' calls are in flight at once")
        peer.release()
        var results: [Int] = []
        for answer in answers { results.append(try await answer.value) }
        #expect(results == (Array(1...5) + Array(11...15)).map { $0 * 2 }, "each caller gets its own answer")
        #expect(peer.calls.withLock { $0 }.sorted { $0[0] < $1[0] } == [Array(1...5), Array(11...15)], "one call per loop, in order")
        let sentFrom = senders.withLock { $0 }
        #expect(sentFrom[Array(1...5)] == ObjectIdentifier(loops[0]), "the first loop's requests are sent from that loop")
        #expect(sentFrom[Array(11...15)] == ObjectIdentifier(loops[1]), "the second loop's requests are sent from that loop")
    }

    @Test func requestsArrivingWhileEveryCallIsInFlightFollowTogether() async throws {
        let peer = RecordingPeer()
        peer.hold()
        let batcher = CallBatcher<Int, Int>(maximumCallsInFlight: 1) { try await peer.send($0) }
        let first = Task { try await batcher.submit(0) }
        while peer.calls.withLock({ $0.count }) < 1 { await Task.yield() }
        let queued = (1...5).map { request in Task { try await batcher.submit(request) } }
        // Nothing more goes out while the only call is in flight.
        try await Task.sleep(for: .milliseconds(50))
        #expect(peer.calls.withLock { $0.count } == 1)
        peer.release()
        #expect(try await first.value == 0)
        var results: [Int] = []
        for task in queued { results.append(try await task.value) }
        #expect(results.sorted() == [2, 4, 6, 8, 10])
        let calls = peer.calls.withLock { $0 }
        #expect(calls.count == 2, "the five queued requests share the next call: \(calls)")
        #expect(calls.last?.sorted() == [1, 2, 3, 4, 5])
    }

    @Test func aFailedCallFailsItsBatchAndTheNextRequestIsSentAgain() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let executor = EventLoopTaskExecutor(eventLoop: loop)
        let down = Atomic(true)
        let batcher = CallBatcher<Int, Int> { requests in
            if down.load(ordering: .relaxed) { throw PeerDown() }
            return requests
        }
        let answers = try await loop.submit {
            (1...3).map { request in Task(executorPreference: executor) { try await batcher.submit(request) } }
        }.get()
        for answer in answers {
            await #expect(throws: PeerDown.self) { try await answer.value }
        }
        down.store(false, ordering: .relaxed)
        #expect(try await Task(executorPreference: executor) { try await batcher.submit(7) }.value == 7)
        try await group.shutdownGracefully()
    }
}
