import Synchronization

/// A counter that concurrent callers share: hands out request indices and counts events.
final class SharedCounter: Sendable {
    private let storage = Atomic<Int>(0)

    /// The current count.
    var value: Int { self.storage.load(ordering: .relaxed) }

    /// Returns the count before adding one.
    func next() -> Int {
        self.storage.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Adds one.
    func increment() {
        self.storage.wrappingAdd(1, ordering: .relaxed)
    }
}
