import NIOCore

/// The rest of an upstream answer's body that is longer than the route's bound (`upstream.max_body_bytes`),
/// passed on as it arrives instead of being read whole, with backpressure: the upstream connection is read
/// only while the one it is for asks for more.
///
/// Made by ``UpstreamResponseHandler`` when it hands the answer's head over; until ``start(_:)`` the
/// connection is not read any further (what was read meanwhile waits here). The one the answer is for calls
/// ``pause()`` when it cannot take more (its client's connection is not writable) and ``resume()`` when it
/// can, and ``cancel()`` when it gives the body up (its client went away, or a `HEAD` needs no body). A
/// stream let go of before its end was delivered gives the body up too: the upstream connection is closed,
/// never reused with an unread answer on it. Its connection goes back to the pool only once the whole body
/// was read.
final class UpstreamBodyStream: Sendable {
    /// What the stream delivers, in order: chunks, then the end or a failure.
    enum Event: Sendable {
        /// The next part of the body.
        case chunk(ByteBuffer)
        /// The body is complete.
        case end
        /// The body broke off (the upstream closed the connection, the total timeout ran out): whoever
        /// received the start must not take what it got for the whole.
        case failed(UpstreamFailure)
    }

    private struct Relay {
        var pending: [Event] = []
        var sink: (@Sendable (Event) -> Void)?
    }

    /// The body's whole length as the answer's `Content-Length` declared it, if it did.
    let declaredLength: Int?
    private let eventLoop: any EventLoop
    private let source: NIOLoopBound<UpstreamResponseHandler>
    private let exchange: Int
    private let relay: NIOLoopBoundBox<Relay>

    /// Creates the stream of exchange number `exchange` of `source`'s connection; on that connection's loop.
    init(declaredLength: Int?, source: UpstreamResponseHandler, exchange: Int, eventLoop: any EventLoop) {
        self.declaredLength = declaredLength
        self.eventLoop = eventLoop
        self.source = NIOLoopBound(source, eventLoop: eventLoop)
        self.exchange = exchange
        self.relay = NIOLoopBoundBox(Relay(), eventLoop: eventLoop)
    }

    deinit {
        let (source, exchange) = (self.source, self.exchange)
        self.eventLoop.execute { source.value.abandon(exchange) }
    }

    /// Starts the delivery: `sink` gets every event, in order, on the upstream connection's event loop.
    func start(_ sink: @escaping @Sendable (Event) -> Void) {
        self.onLoop { stream in
            let pending = stream.relay.value.pending
            stream.relay.value.pending = []
            stream.relay.value.sink = sink
            for event in pending { sink(event) }
            stream.source.value.resumeReading(stream.exchange)
        }
    }

    /// Stops reading the upstream connection (what was already read is still delivered).
    func pause() {
        self.onLoop { $0.source.value.pauseReading($0.exchange) }
    }

    /// Reads the upstream connection again.
    func resume() {
        self.onLoop { $0.source.value.resumeReading($0.exchange) }
    }

    /// Gives the rest of the body up: the upstream connection is closed.
    func cancel() {
        self.onLoop { $0.source.value.abandon($0.exchange) }
    }

    /// Delivers an event, or keeps it until ``start(_:)``; called by the source on its loop.
    func emit(_ event: Event) {
        if let sink = self.relay.value.sink {
            sink(event)
        } else {
            self.relay.value.pending.append(event)
        }
    }

    private func onLoop(_ work: @escaping @Sendable (UpstreamBodyStream) -> Void) {
        if self.eventLoop.inEventLoop {
            work(self)
        } else {
            self.eventLoop.execute { work(self) }
        }
    }
}
