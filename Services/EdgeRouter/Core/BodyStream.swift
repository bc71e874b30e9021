import NIOCore

/// The rest of a body longer than its bound (an HTTP upstream route's `max_body_bytes`), passed on as it
/// arrives instead of being read whole, with backpressure: its source connection is read only while the one
/// it is for asks for more. Two directions: an upstream's answer to the client (the source is the upstream
/// connection's ``UpstreamResponseHandler``), and a client's request body to the upstream (the source is
/// the client connection's ``EdgeConnectionHandler``).
///
/// Until ``start(_:)`` the source connection is not read any further (what was read meanwhile waits here).
/// The one the body is for calls ``pause()`` when it cannot take more (its connection is not writable) and
/// ``resume()`` when it can, and ``cancel()`` when it gives the body up. A stream let go of before its end
/// was delivered gives the body up too: the source is told (an upstream connection with an unread answer is
/// closed, never reused).
final class BodyStream: Sendable {
    /// What the stream delivers, in order: chunks, then the end or a failure.
    enum Event: Sendable {
        /// The next part of the body.
        case chunk(ByteBuffer)
        /// The body is complete.
        case end
        /// The body broke off: whoever received its start must not take what it got for the whole.
        case failed(String)
    }

    private struct Relay {
        var pending: [Event] = []
        var sink: (@Sendable (Event) -> Void)?
    }

    /// The body's whole length as its `Content-Length` declared it, if it did.
    let declaredLength: Int?
    private let eventLoop: any EventLoop
    private let source: NIOLoopBound<any BodyStreamSource>
    private let exchange: Int
    private let relay: NIOLoopBoundBox<Relay>

    /// Creates the stream of exchange number `exchange` of `source`'s connection; on that connection's loop.
    init(declaredLength: Int?, source: any BodyStreamSource, exchange: Int, eventLoop: any EventLoop) {
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

    /// Starts the delivery: `sink` gets every event, in order, on the source connection's event loop.
    func start(_ sink: @escaping @Sendable (Event) -> Void) {
        self.onLoop { stream in
            let pending = stream.relay.value.pending
            stream.relay.value.pending = []
            stream.relay.value.sink = sink
            for event in pending { sink(event) }
            stream.source.value.resumeReading(stream.exchange)
        }
    }

    /// Stops reading the source connection (what was already read is still delivered).
    func pause() {
        self.onLoop { $0.source.value.pauseReading($0.exchange) }
    }

    /// Reads the source connection again.
    func resume() {
        self.onLoop { $0.source.value.resumeReading($0.exchange) }
    }

    /// Gives the rest of the body up.
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

    private func onLoop(_ work: @escaping @Sendable (BodyStream) -> Void) {
        if self.eventLoop.inEventLoop {
            work(self)
        } else {
            self.eventLoop.execute { work(self) }
        }
    }
}

/// The connection handler a ``BodyStream`` reads from; its methods are called on its loop and name the
/// exchange (the request or answer on that connection) the stream belongs to, so a stream of a past
/// exchange changes nothing.
protocol BodyStreamSource: AnyObject {
    /// Stops reading the connection.
    func pauseReading(_ exchange: Int)
    /// Reads the connection again.
    func resumeReading(_ exchange: Int)
    /// The rest of the body is not wanted.
    func abandon(_ exchange: Int)
}
