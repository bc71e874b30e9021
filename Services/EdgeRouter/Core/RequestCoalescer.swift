import Synchronization

/// Coalesces concurrent misses: while one fetch for a key is in flight, every other caller for that key
/// waits for its result instead of starting another (100 concurrent misses make one upstream call). A fetch
/// does not fail: an upstream's failure is an answer (a problem) that every waiter receives.
///
/// The fetch runs in a task of its own, so a caller that is cancelled (its client went away) neither
/// cancels the fetch for the others nor leaves them waiting; the flight is forgotten when it lands.
package final class RequestCoalescer<Value: Sendable>: Sendable {
    private struct Flights {
        var nextID: UInt64 = 0
        var running: [String: (id: UInt64, task: Task<Value, Never>)] = [:]
    }

    private let flights = Mutex(Flights())

    /// Creates a coalescer.
    package init() {}

    /// The value for `key`: the result of the fetch in flight for it, or of a new one started with `fetch`.
    /// - Returns: The fetched value and whether this call started the fetch.
    package func value(for key: String, fetch: @escaping @Sendable () async -> Value) async -> (value: Value, leader: Bool) {
        let (task, leader) = self.flights.withLock { flights -> (Task<Value, Never>, Bool) in
            if let running = flights.running[key] { return (running.task, false) }
            flights.nextID += 1
            let id = flights.nextID
            // The task's cleanup takes the lock too, so it runs only after this insertion.
            let task = Task {
                defer {
                    self.flights.withLock { flights in
                        if flights.running[key]?.id == id { flights.running[key] = nil }
                    }
                }
                return await fetch()
            }
            flights.running[key] = (id, task)
            return (task, true)
        }
        return (await task.value, leader)
    }

    /// Fetches in flight, for metrics and tests.
    package var inFlightCount: Int {
        self.flights.withLock { $0.running.count }
    }
}
