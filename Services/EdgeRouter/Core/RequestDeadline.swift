/// When a connection's request in progress must be done: from the moment its head is read, the whole
/// body must arrive and the whole response be handed to the connection within `limit`; otherwise the
/// connection is closed. This bounds slow uploads (a body trickling in a byte at a time) and clients
/// that stop reading their response; the wait for a request head between requests is the idle timeout's.
///
/// A pure state machine over the HTTP parts of one connection (pipelined requests are answered in
/// order, so the oldest open request's deadline is the one that matters); ``EdgeConnectionHandler`` is
/// its NIO shell. The shell keeps at most one timer per connection and never moves it for a request: a
/// timer that fires before the oldest open request is due is set again for that request's deadline, and
/// one that fires with no request open is not set again. So a busy connection costs one timer per `limit`,
/// not one per request.
struct RequestDeadline {
    typealias Instant = ContinuousClock.Instant

    /// What the shell does next.
    typealias Action = DeadlineAction

    let limit: Duration
    /// The deadlines of the requests whose heads were read and whose responses are not finished, oldest first.
    private(set) var open: [Instant] = []
    /// Whether the shell's timer is set.
    private var timerSet = false

    init(limit: Duration) {
        self.limit = limit
    }

    /// A request head was read at `now`.
    mutating func headRead(at now: Instant) -> Action {
        self.open.append(now.advanced(by: self.limit))
        guard !self.timerSet else { return .none }
        self.timerSet = true
        return .schedule(self.open[0])
    }

    /// The end of a response was written: its request is done. The timer stays as it is.
    mutating func responseFinished() {
        if !self.open.isEmpty { self.open.removeFirst() }
    }

    /// The timer fired at `now`.
    mutating func timerFired(at now: Instant) -> Action {
        self.timerSet = false
        guard let oldest = self.open.first else { return .none }
        if oldest <= now { return .close }
        self.timerSet = true
        return .schedule(oldest)
    }
}
