import Synchronization

/// Tells the upstream exchange of a request that the client it came from closed its connection, so that an
/// exchange only that client waits for ends at once instead of at the route's timeouts (nginx's default,
/// `proxy_ignore_client_abort off`): a client that sends a request to a slow upstream and leaves, again and
/// again, does not pile up upstream connections. The HTTP server makes one per connection (its requests come
/// one at a time) and says when the client left; an exchange registers what ends it while its answer has not
/// begun and forgets it after.
final class ClientDeparture: Sendable {
    private struct State {
        var gone = false
        var nextTicket: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Creates the departure of a client that is still there.
    init() {}

    /// Runs `action` when the client leaves, or at once when it has left already.
    /// - Returns: The ticket to ``forget(_:)`` the action with, or `nil` when it ran at once.
    func whenGone(_ action: @escaping @Sendable () -> Void) -> UInt64? {
        let ticket: UInt64? = self.state.withLock { state in
            guard !state.gone else { return nil }
            state.nextTicket += 1
            state.actions[state.nextTicket] = action
            return state.nextTicket
        }
        if ticket == nil { action() }
        return ticket
    }

    /// Drops the action registered with `ticket` (its exchange ended), if it has not run.
    func forget(_ ticket: UInt64) {
        _ = self.state.withLock { $0.actions.removeValue(forKey: ticket) }
    }

    /// The client closed its connection: every registered action runs, once.
    func left() {
        let actions = self.state.withLock { state in
            state.gone = true
            defer { state.actions = [:] }
            return Array(state.actions.values)
        }
        for action in actions { action() }
    }
}
