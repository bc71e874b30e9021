import EdgeRouterCore
import Synchronization
import Testing

/// Concurrent misses for one key make one fetch.
struct RequestCoalescerTests {
    final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    @Test func aHundredConcurrentMissesMakeOneFetch() async throws {
        let coalescer = RequestCoalescer<String>()
        let fetches = Count()
        let gate = AsyncStream.makeStream(of: Void.self)
        let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let (value, leader) = await coalescer.value(for: "GET /v1/posts/1") {
                        fetches.value.add(1, ordering: .relaxed)
                        for await _ in gate.stream {}
                        return "document"
                    }
                    return (value, leader)
                }
            }
            // Let every caller join the flight, then let it land.
            while coalescer.inFlightCount == 0 { await Task.yield() }
            try await Task.sleep(for: .milliseconds(100))
            gate.continuation.finish()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(fetches.value.load(ordering: .relaxed) == 1)
        #expect(results.count == 100 && results.allSatisfy { $0.0 == "document" })
        #expect(results.filter(\.1).count == 1, "one leader")
        try await Task.sleep(for: .milliseconds(20))
        #expect(coalescer.inFlightCount == 0, "the flight is forgotten once it lands")
    }

    @Test func theNextCallAfterAFlightLandsFetchesAgain() async throws {
        let coalescer = RequestCoalescer<Int>()
        #expect(await coalescer.value(for: "k") { 503 } == (503, true))
        while coalescer.inFlightCount > 0 { await Task.yield() }
        #expect(await coalescer.value(for: "k") { 200 } == (200, true))
    }
}
