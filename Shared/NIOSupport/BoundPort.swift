import Synchronization

/// The port a server bound, announced once by the server and awaited by any number of tasks (the
/// "listening" log line, a test that connects to a server started on port 0).
public final class BoundPort: Sendable {
    private struct State {
        var port: Int?
        var waiters: [Int: CheckedContinuation<Int?, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    /// Creates a port not yet announced.
    public init() {}

    /// Announces the bound port and wakes every waiter; later announcements are ignored.
    /// - Parameter port: The port the server listens on.
    public func announce(_ port: Int) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Int?, Never>] in
            guard state.port == nil else { return [] }
            state.port = port
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// The port, once announced.
    /// - Returns: The announced port.
    /// - Throws: `CancellationError` when the calling task is cancelled before the port is announced.
    public func value() async throws -> Int {
        let id = self.state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let port = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
                let known: Int?? = self.state.withLock { state in
                    if let port = state.port { return .some(port) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let known { continuation.resume(returning: known) }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
        guard let port else { throw CancellationError() }
        return port
    }
}
