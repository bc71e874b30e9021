@testable import DataServiceCore
import GatehouseDataAPI
import Testing

/// The in-memory hand-over: it gives out only runs of consecutive versions, so a version committed by
/// another process (a gap between this writer's events) is always read from the outbox.
@Suite struct CommittedEventBufferTests {
    private static func event(_ version: Int64) -> InvalidationMessage.Event {
        InvalidationMessage.Event(version: version, collection: "posts", id: "p\(version)", kind: .put, committedAtMs: 0)
    }

    @Test func aRunStopsBeforeAVersionAnotherProcessCommitted() {
        let buffer = CommittedEventBuffer(capacity: 16)
        // This writer committed 1, 3 and 4; version 2 came from another process.
        buffer.append([Self.event(1)])
        buffer.append([Self.event(3), Self.event(4)])
        #expect(buffer.take(after: 0, limit: 10)?.map(\.version) == [1])
        #expect(buffer.take(after: 1, limit: 10) == nil, "2 is only in the outbox")
        // Once 2 went out from the outbox, the buffer continues.
        #expect(buffer.take(after: 2, limit: 10)?.map(\.version) == [3, 4])
        #expect(buffer.take(after: 3, limit: 1)?.map(\.version) == [4])
        #expect(buffer.take(after: 4, limit: 10) == nil)
    }

    @Test func pastItsCapacityTheOldestEventsGoAndTheOutboxFillsIn() {
        let buffer = CommittedEventBuffer(capacity: 2)
        buffer.append((1...5).map(Self.event))
        #expect(buffer.take(after: 0, limit: 10) == nil)
        #expect(buffer.take(after: 3, limit: 10)?.map(\.version) == [4, 5])
    }
}
