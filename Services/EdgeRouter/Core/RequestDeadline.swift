/// When a connection's request in progress must be done: from the moment its head is read, the whole
/// body must arrive and the whole response be handed to the connection within `limit`; otherwise the
/// connection is closed. This bounds slow uploads (a body trickling in a byte at a time) and clients
/// that stop reading their response; the wait for a request head between requests is the idle timeout's.
///
/// A pure state machine over the HTTP parts of one connection (pipelined requests are answered in
/// order, so the oldest open request's deadline is the one that matters); ``RequestDeadlineHandler`` is
/// its NIO shell.
struct RequestDeadline {
    typealias Instant = ContinuousClock.Instant

    /// What the shell should do with its timer; when a scheduled timer fires, the oldest open request is
    /// overdue and the connection must be closed.
    enum Action: Equatable {
        /// Schedule (or move) the timer to fire at this instant.
        case schedule(Instant)
        /// Cancel the timer: no request is in progress.
        case cancel
        /// Leave the timer as it is.
        case none
    }

    let limit: Duration
    /// The deadlines of the requests whose heads were read and whose responses are not finished, oldest first.
    private(set) var open: [Instant] = []

    init(limit: Duration) {
        self.limit = limit
    }

    /// A request head was read at `now`.
    mutating func headRead(at now: Instant) -> Action {
        self.open.append(now.advanced(by: self.limit))
        return self.open.count == 1 ? .schedule(self.open[0]) : .none
    }

    /// The end of a response was written: its request is done.
    mutating func responseFinished() -> Action {
        guard !self.open.isEmpty else { return .none }
        self.open.removeFirst()
        return self.open.first.map { .schedule($0) } ?? .cancel
    }
}
