import NIOCore
import NIOPosix
import Synchronization

/// Sends concurrent requests to a peer in batches, so that under load one call (one command, one frame, one
/// reply) carries many requests, while a request at low load goes out at once, alone.
///
/// No request ever waits for a batch to fill: while fewer than `maximumCallsInFlight` calls are under way, a
/// request is sent right away. Requests that arrive while that many calls are in flight queue up, and the
/// next free sender takes up to `maximumBatchSize` of them, in arrival order, in one call.
///
/// On an event loop, "right away" means once the loop has run the work it already has queued: a request
/// submitted there queues, and a sender task, started on the same loop (``EventLoopTaskExecutor/current``),
/// takes it with every other request that the loop's queued tasks submit before it runs. So the requests
/// that one socket read brings in (a read's RPC frames, a loop tick's HTTP requests) go out in one call
/// instead of one call each, at no cost in latency: the sender runs on the same thread in the same tick.
/// The sender's call and answer need no hop to Swift's global executor and back. Off the event loops, a
/// request with nothing queued is sent at once by its own task.
///
/// Each event loop of `MultiThreadedEventLoopGroup.singleton` has a queue and `maximumCallsInFlight` of its
/// own (callers elsewhere share one more): a loop's requests go out in its own calls, sent and answered on
/// that loop, and their tasks resume there without a wake-up of another thread. With one queue for all
/// loops, a sender on one loop took the requests of the others and resumed them from its thread; a queue per
/// loop cut the limiter's CPU per check by about 7% (docs/performance.md, "One batch queue per event loop").
///
/// A call that fails fails its whole batch and every request queued behind it: they would only wait for the
/// same failure, one timeout per batch, while their callers' fallbacks can decide at once.
public final class CallBatcher<Request: Sendable, Response: Sendable>: Sendable {
    /// Sends one batch; returns one response per request, in request order.
    public typealias Send = @Sendable ([Request]) async throws -> [Response]

    // The batcher's body is inlinable, so that each client module compiles it for its own request and
    // response types instead of running generic code that looks up type metadata and copies values through
    // witness tables on every request. Measured on the limiter: 13–18% less CPU per check at full load
    // (docs/performance.md, "The batcher compiled for its callers' types").

    @usableFromInline
    struct Pending {
        @usableFromInline let request: Request
        @usableFromInline let continuation: CheckedContinuation<Response, any Error>

        @inlinable
        init(request: Request, continuation: CheckedContinuation<Response, any Error>) {
            self.request = request
            self.continuation = continuation
        }
    }

    @usableFromInline
    struct State {
        @usableFromInline var queue: [Pending] = []
        @usableFromInline var callsInFlight = 0
        /// Set when a request starts a sender, cleared whenever a sender takes from the queue: until then,
        /// requests that queue join the batch about to be taken rather than start senders of their own.
        @usableFromInline var senderStarting = false

        @inlinable
        init() {}
    }

    /// The queue of one event loop, or of the callers off the singleton group's loops.
    @usableFromInline
    final class Lane: Sendable {
        @usableFromInline let state = Mutex(State())

        @inlinable
        init() {}
    }

    @usableFromInline let send: Send
    @usableFromInline let maximumCallsInFlight: Int
    @usableFromInline let maximumBatchSize: Int
    /// One lane per loop of `MultiThreadedEventLoopGroup.singleton`, by the loop's identity.
    @usableFromInline let loopLanes: [ObjectIdentifier: Lane]
    /// The lane of callers on no loop, or on a loop of another group.
    @usableFromInline let sharedLane = Lane()

    /// Creates a batcher.
    /// - Parameters:
    ///   - maximumCallsInFlight: Calls under way at once, per event loop, before that loop's requests queue
    ///     (default 4).
    ///   - maximumBatchSize: Requests in one call (default 64).
    ///   - send: Sends one batch.
    @inlinable
    public init(maximumCallsInFlight: Int = 4, maximumBatchSize: Int = 64, send: @escaping Send) {
        self.maximumCallsInFlight = max(1, maximumCallsInFlight)
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.send = send
        var loopLanes: [ObjectIdentifier: Lane] = [:]
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            loopLanes[ObjectIdentifier(loop)] = Lane()
        }
        self.loopLanes = loopLanes
    }

    /// Sends one request, in a batch with whatever else is waiting.
    /// - Returns: The request's own response.
    /// - Throws: What the call of its batch threw, or ``CallBatcherError`` when that call answered a different
    ///   number of requests than it was given.
    @inlinable
    public func submit(_ request: Request) async throws -> Response {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop
        let lane = loop.flatMap { self.loopLanes[ObjectIdentifier($0)] } ?? self.sharedLane
        let sendsItself = loop == nil && lane.state.withLock { state in
            guard state.queue.isEmpty, state.callsInFlight < self.maximumCallsInFlight else { return false }
            state.callsInFlight += 1
            return true
        }
        if sendsItself {
            // Off the event loops with nothing waiting: this task sends its request alone, with no task hop.
            defer { self.releaseOrKeepSending(lane) }
            return try await self.call([request])[0]
        }
        return try await withCheckedThrowingContinuation { continuation in
            let startSender = lane.state.withLock { state in
                state.queue.append(Pending(request: request, continuation: continuation))
                guard !state.senderStarting, state.callsInFlight < self.maximumCallsInFlight else { return false }
                state.callsInFlight += 1
                state.senderStarting = true
                return true
            }
            if startSender {
                Task(executorPreference: EventLoopTaskExecutor.current) { await self.sendUntilQueueIsEmpty(lane) }
            }
        }
    }

    /// After a call of its own: gives the sending slot back, or, when requests queued up meanwhile, passes it to
    /// a task that sends them.
    @inlinable
    func releaseOrKeepSending(_ lane: Lane) {
        let keepSending = lane.state.withLock { state in
            guard state.queue.isEmpty else { return true }
            state.callsInFlight -= 1
            return false
        }
        if keepSending {
            Task(executorPreference: EventLoopTaskExecutor.current) { await self.sendUntilQueueIsEmpty(lane) }
        }
    }

    /// Sends batches while requests are queued in `lane`, then gives its sending slot back.
    @inlinable
    func sendUntilQueueIsEmpty(_ lane: Lane) async {
        while true {
            let batch: [Pending] = lane.state.withLock { state in
                state.senderStarting = false
                guard !state.queue.isEmpty else {
                    state.callsInFlight -= 1
                    return []
                }
                let count = min(state.queue.count, self.maximumBatchSize)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            await self.send(batch, from: lane)
        }
    }

    @inlinable
    func send(_ batch: [Pending], from lane: Lane) async {
        do {
            let responses = try await self.call(batch.map(\.request))
            for (pending, response) in zip(batch, responses) {
                pending.continuation.resume(returning: response)
            }
        } catch {
            let queued = lane.state.withLock { state in
                defer { state.queue.removeAll() }
                return state.queue
            }
            for pending in batch + queued {
                pending.continuation.resume(throwing: error)
            }
        }
    }

    @inlinable
    func call(_ requests: [Request]) async throws -> [Response] {
        let responses = try await self.send(requests)
        guard responses.count == requests.count else {
            throw CallBatcherError(requests: requests.count, responses: responses.count)
        }
        return responses
    }
}
