import NIOCore

/// Which of one server connection's requests run now: a pure state machine that
/// ``RPCServerConnectionHandler`` drives and tests drive without sockets.
///
/// At most `maximum` calls run at once. A request that arrives at the bound waits, in arrival order, for a
/// call to finish; while any wait, or the bound is reached, the connection is not read, so TCP pushes back on
/// the client and the wait holds at most what one read of the socket brought. Once draining (graceful
/// shutdown), waiting and new requests are refused (answered `unavailable`), and the connection closes when
/// its last running call has answered, or at once when none runs.
struct RPCCallAdmission<Request> {
    /// What to do with a request that arrived.
    enum Admission {
        /// Run it now.
        case start(Request)
        /// Answer it `unavailable`: the connection is draining.
        case refuse(Request)
        /// It waits for a running call to finish.
        case wait
    }

    /// The most calls running at once.
    let maximum: Int
    /// The calls running.
    private(set) var running = 0
    private var waiting = CircularBuffer<Request>()
    /// Whether graceful shutdown has begun.
    private(set) var draining = false

    init(maximum: Int) {
        self.maximum = max(1, maximum)
    }

    /// Whether the connection may read more: fewer than the maximum calls run and none waits.
    var mayRead: Bool { self.running < self.maximum && self.waiting.isEmpty }

    /// Whether a draining connection may close now: no call runs.
    var mayClose: Bool { self.draining && self.running == 0 }

    /// A request arrived.
    mutating func received(_ request: Request) -> Admission {
        if self.draining { return .refuse(request) }
        guard self.running < self.maximum else {
            self.waiting.append(request)
            return .wait
        }
        self.running += 1
        return .start(request)
    }

    /// A running call answered.
    /// - Returns: The waiting request that runs in its place, if any.
    mutating func finished() -> Request? {
        self.running -= 1
        guard !self.draining, let next = self.waiting.popFirst() else { return nil }
        self.running += 1
        return next
    }

    /// Graceful shutdown begins.
    /// - Returns: The waiting requests, to refuse.
    mutating func drain() -> [Request] {
        self.draining = true
        defer { self.waiting.removeAll() }
        return Array(self.waiting)
    }
}
