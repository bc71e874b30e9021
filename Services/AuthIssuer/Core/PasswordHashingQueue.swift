import NIOCore
import NIOPosix
import Synchronization

/// Bounds the bcrypt work of the issuer: at most ``concurrency`` hashes run at once (on NIO's blocking
/// thread pool), at most ``waitingLimit`` more wait for a turn in arrival order, and any further one is
/// refused at once with ``PasswordHashingQueueFull`` instead of queueing behind the others.
///
/// A bcrypt of cost 12 takes a core for about a quarter of a second: without a bound, 64 parallel logins
/// (correct ones are not throttled by failure counts) queue every later login behind them for seconds. With
/// it, a login waits at most about (``waitingLimit`` ÷ ``concurrency`` + 1) hash times, or is told to retry.
/// A task cancelled while it waits leaves the queue.
package final class PasswordHashingQueue: Sendable {
    /// Hashes that may run at once (`passwords.max_concurrent_hashes`).
    package let concurrency: Int
    /// Hashes that may wait for a turn (`passwords.max_waiting_hashes`).
    package let waitingLimit: Int

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var running = 0
        var waiting = CircularBuffer<Waiter>()
        var nextWaiterID: UInt64 = 0
        /// A moving average of how long one hash takes, for `Retry-After`.
        var averageHashDuration = Duration.milliseconds(250)
    }

    private let state = Mutex(State())

    /// The default ``concurrency``: the number of cores, as many as NIO's blocking pool has threads.
    package static var defaultConcurrency: Int { System.coreCount }
    /// The default ``waitingLimit``.
    package static let defaultWaitingLimit = 32

    /// Creates a queue.
    /// - Parameters:
    ///   - concurrency: Hashes that may run at once, at least 1. More than NIO's blocking pool has threads
    ///     (one per core) queue inside the pool.
    ///   - waitingLimit: Hashes that may wait, 0 or more.
    package init(concurrency: Int = PasswordHashingQueue.defaultConcurrency, waitingLimit: Int = PasswordHashingQueue.defaultWaitingLimit) {
        precondition(concurrency >= 1 && waitingLimit >= 0, "a password hashing queue needs concurrency ≥ 1 and waitingLimit ≥ 0")
        self.concurrency = concurrency
        self.waitingLimit = waitingLimit
    }

    /// Runs `work` (a bcrypt) on NIO's blocking thread pool when a turn is free, waiting for one if the
    /// queue has room.
    /// - Parameter work: The blocking work.
    /// - Returns: What `work` returns.
    /// - Throws: ``PasswordHashingQueueFull`` when ``concurrency`` hashes run and ``waitingLimit`` wait;
    ///   `CancellationError` when the task is cancelled while it waits; the pool's error when it has shut down.
    package func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async throws -> Value {
        try await self.acquire()
        let start = ContinuousClock.now
        defer { self.release(hashDuration: ContinuousClock.now - start) }
        return try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// Takes a turn: at once when fewer than ``concurrency`` run, else after waiting in line.
    private func acquire() async throws {
        enum Admission {
            case run
            case wait(UInt64)
            case full(retryAfterSeconds: Int)
        }
        let admission = self.state.withLock { state -> Admission in
            if state.running < self.concurrency {
                state.running += 1
                return .run
            }
            guard state.waiting.count < self.waitingLimit else {
                return .full(retryAfterSeconds: self.retryAfterSeconds(state))
            }
            state.nextWaiterID += 1
            return .wait(state.nextWaiterID)
        }
        switch admission {
        case .run:
            return
        case .full(let seconds):
            throw PasswordHashingQueueFull(retryAfterSeconds: seconds)
        case .wait(let id):
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let cancelled = self.state.withLock { state in
                        // Checked under the lock, so a cancellation either sees this waiter or is seen here.
                        if Task.isCancelled { return true }
                        state.waiting.append(Waiter(id: id, continuation: continuation))
                        return false
                    }
                    if cancelled { continuation.resume(throwing: CancellationError()) }
                }
            } onCancel: {
                let waiter = self.state.withLock { state -> Waiter? in
                    guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiting.remove(at: index)
                }
                waiter?.continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Hashes running and waiting right now.
    var occupancy: (running: Int, waiting: Int) {
        self.state.withLock { ($0.running, $0.waiting.count) }
    }

    /// Ends a turn: hands it to the first waiter, or frees it.
    private func release(hashDuration: Duration) {
        let next = self.state.withLock { state -> Waiter? in
            state.averageHashDuration = (state.averageHashDuration * 7 + hashDuration) / 8
            guard let next = state.waiting.popFirst() else {
                state.running -= 1
                return nil
            }
            return next
        }
        next?.continuation.resume()
    }

    /// The seconds until the queue has likely drained: every running and waiting hash, `concurrency` at a time.
    private func retryAfterSeconds(_ state: State) -> Int {
        let rounds = (state.running + state.waiting.count + self.concurrency - 1) / self.concurrency
        let seconds = Double((state.averageHashDuration * rounds).components.seconds)
            + Double((state.averageHashDuration * rounds).components.attoseconds) / 1e18
        return max(1, Int(seconds.rounded(.up)))
    }
}

/// A password hash refused because the ``PasswordHashingQueue`` is full; the token endpoint answers `503`
/// `temporarily_unavailable` with `Retry-After`.
package struct PasswordHashingQueueFull: Error, Sendable, CustomStringConvertible {
    /// Seconds after which the queue has likely room again (at least 1).
    package let retryAfterSeconds: Int

    /// What happened and when to retry.
    package var description: String {
        "too many passwords are being checked right now; retry after \(self.retryAfterSeconds) s"
    }
}
