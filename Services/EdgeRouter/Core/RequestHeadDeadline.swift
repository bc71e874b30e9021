/// When a request head must be complete: within `limit` (`http.head_timeout_ms`) of the read that brought its
/// first bytes; otherwise the connection is closed. This bounds a client that trickles its request line
/// and header fields a byte at a time, each byte resetting the idle timeout; once the head is read, the
/// request timeout (``RequestDeadline``) bounds the rest.
///
/// A pure state machine over two kinds of events: reads of raw bytes, before the HTTP decoder, and the heads
/// and ends the decoder makes of them. A head is being read from the first read after the previous request's
/// end (or the connection's start) until the decoder reports the head. Bytes of a pipelined head that arrive
/// in the same read as the end of the request before it start the clock at the next read (which the idle
/// timeout bounds).
///
/// ``RequestHeadDeadlineHandler`` is its NIO shell, with at most one timer per connection that is never
/// moved: a timer that fires before the head in progress is due is set again for that head's deadline, and
/// one that fires with no head in progress is not set again. So a busy keep-alive connection costs one
/// timer per `limit`, not one per request.
struct RequestHeadDeadline {
    typealias Instant = ContinuousClock.Instant

    /// What the shell does next.
    typealias Action = DeadlineAction

    let limit: Duration
    /// The deadline of the head in progress; `nil` while none is.
    private(set) var deadline: Instant?
    /// Whether the decoder is inside a request (its head read, its end not yet).
    private var insideRequest = false
    /// Whether the shell's timer is set.
    private var timerSet = false

    init(limit: Duration) {
        self.limit = limit
    }

    /// Bytes were read at `now`, before the decoder sees them.
    mutating func bytesRead(at now: Instant) -> Action {
        guard !self.insideRequest, self.deadline == nil else { return .none }
        let deadline = now.advanced(by: self.limit)
        self.deadline = deadline
        guard !self.timerSet else { return .none }
        self.timerSet = true
        return .schedule(deadline)
    }

    /// The decoder read a whole head.
    mutating func headDecoded() {
        self.deadline = nil
        self.insideRequest = true
    }

    /// The decoder read a request's end: the next bytes are the next head's.
    mutating func endDecoded() {
        self.insideRequest = false
    }

    /// The timer fired at `now`.
    mutating func timerFired(at now: Instant) -> Action {
        self.timerSet = false
        guard let deadline = self.deadline else { return .none }
        if deadline <= now { return .close }
        self.timerSet = true
        return .schedule(deadline)
    }
}
