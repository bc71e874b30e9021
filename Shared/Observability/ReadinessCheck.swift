import Synchronization

/// One condition the service needs before it can take traffic, such as "Redis answers PING".
///
/// ``AdminServer`` runs every check concurrently on each `GET /readyz`. A check passes when it returns
/// `true`; it fails when it returns `false`, throws, or has not finished within its ``timeout`` (the
/// check's task is then cancelled and the answer does not wait for it).
public struct ReadinessCheck: Sendable {
    /// The name shown in the `/readyz` body, e.g. `redis`.
    public let name: String
    /// How long the check may take before it counts as failed.
    public let timeout: Duration
    private let check: @Sendable () async throws -> Bool

    /// Creates a check.
    ///
    /// - Parameters:
    ///   - name: The name shown in the `/readyz` body.
    ///   - timeout: How long the check may take; one second by default.
    ///   - check: Returns whether the dependency is ready; throwing counts as not ready.
    public init(name: String, timeout: Duration = .seconds(1), check: @escaping @Sendable () async throws -> Bool) {
        self.name = name
        self.timeout = timeout
        self.check = check
    }

    /// Runs the check, bounded by ``timeout``.
    ///
    /// Returns after at most ``timeout`` even when the check ignores cancellation.
    public func evaluate() async -> ReadinessCheckResult {
        let slot = OutcomeSlot()
        let work = Task {
            do {
                slot.fill(try await self.check() ? .passed : .failed)
            } catch {
                slot.fill(.threw(String(describing: error)))
            }
        }
        let timeout = self.timeout
        let timer = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            slot.fill(.timedOut(timeout))
        }
        let outcome = await slot.value()
        timer.cancel()
        work.cancel()
        return ReadinessCheckResult(name: self.name, outcome: outcome)
    }
}

/// The first outcome reported by either the check or its timer, handed to one waiter.
private final class OutcomeSlot: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<ReadinessCheckResult.Outcome, Never>)
        case filled(ReadinessCheckResult.Outcome)
        case delivered
    }

    private let state = Mutex(State.empty)

    /// Records `outcome` unless one was recorded already, resuming the waiter if there is one.
    func fill(_ outcome: ReadinessCheckResult.Outcome) {
        self.state.withLock { state in
            switch state {
            case .empty:
                state = .filled(outcome)
            case .waiting(let continuation):
                state = .delivered
                continuation.resume(returning: outcome)
            case .filled, .delivered:
                break
            }
        }
    }

    /// Waits for the first outcome.
    func value() async -> ReadinessCheckResult.Outcome {
        await withCheckedContinuation { continuation in
            self.state.withLock { state in
                if case .filled(let outcome) = state {
                    state = .delivered
                    continuation.resume(returning: outcome)
                } else {
                    state = .waiting(continuation)
                }
            }
        }
    }
}
