import Foundation
import GatehouseSQLite
import Testing

/// An actor pinned to a dedicated thread, recording which thread ran each call.
private actor PinnedCounter {
    private let executor = DedicatedThreadExecutor(name: "pinned-counter")
    private(set) var count = 0
    private(set) var threadNames: Set<String> = []
    private(set) var threads: Set<UInt> = []

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    func increment() {
        count += 1
        executor.checkIsolated()
        threadNames.insert(Thread.current.name ?? "")
        threads.insert(UInt(pthread_self()))
    }
}

@Suite struct DedicatedThreadExecutorTests {
    @Test func actorCallsRunSeriallyOnTheDedicatedThread() async {
        let counter = PinnedCounter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<1000 {
                group.addTask { await counter.increment() }
            }
        }
        #expect(await counter.count == 1000)
        let names = await counter.threadNames
        #expect(names == ["pinned-counter"], "\(names)")
        #expect(await counter.threads.count == 1)
    }
}
