import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 client on one real connection to the edge, for answers too long to hold: it checks each body
/// byte against ``TestStreamedAnswer/bytes(at:count:)`` as it arrives and keeps only counts. With `reading: false` it
/// reads only when told (``readMore()``), with a small receive buffer: a client that reads slowly.
final class TestStreamingClient: Sendable {
    /// What arrived on the connection so far.
    struct Seen: Sendable {
        /// The status of the answer in progress or last received.
        var status: Int?
        /// Its `Content-Length`, if it had one.
        var contentLength: Int?
        /// Body bytes of that answer so far.
        var bodyBytes = 0
        /// Whether every byte was the one expected.
        var intact = true
        /// Answers received to their end.
        var ended = 0
        /// Whether the connection closed.
        var closed = false
        /// The first bytes of the body, as text (an answer that is not the pattern).
        var text = ""
    }

    private let channel: any Channel
    private let seen: SeenBox
    private let sentBytes = Atomic<Int>(0)

    private init(channel: any Channel, seen: SeenBox) {
        self.channel = channel
        self.seen = seen
    }

    /// Connects to the edge at `port`.
    static func connect(port: Int, reading: Bool = true) async throws -> TestStreamingClient {
        let seen = SeenBox()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
        if !reading { bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: 16 * 1024) }
        let channel = try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(Collector(box: seen))
            }
        }.connect(host: "127.0.0.1", port: port).get()
        return TestStreamingClient(channel: channel, seen: seen)
    }

    /// Sends a request without a body.
    func send(_ method: HTTPMethod, _ target: String) {
        self.seen.value.withLock { $0 = Seen(ended: $0.ended, closed: $0.closed) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: ["Host": "edge.test"])
        self.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        self.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// Sends a request's head, for a body sent with ``sendBody(from:count:)`` and ``sendEnd()``: with
    /// `Content-Length` when `length` is given, else chunked.
    func sendHead(_ method: HTTPMethod, _ target: String, length: Int?) {
        self.seen.value.withLock { $0 = Seen(ended: $0.ended, closed: $0.closed) }
        var headers: HTTPHeaders = ["Host": "edge.test"]
        headers.add(name: length == nil ? "Transfer-Encoding" : "Content-Length", value: length.map { "\($0)" } ?? "chunked")
        self.channel.writeAndFlush(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)), promise: nil)
    }

    /// Sends `count` bytes of ``TestStreamedAnswer/bytes(at:count:)`` from `offset`, and waits until the
    /// connection took them.
    func sendBody(from offset: Int, count: Int) async throws {
        var sent = offset
        while sent < offset + count {
            let part = min(64 * 1024, offset + count - sent)
            try await self.channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(TestStreamedAnswer.bytes(at: sent, count: part)))).get()
            sent += part
            self.sentBytes.add(part, ordering: .relaxed)
        }
    }

    /// Request body bytes the connection took so far (written to its socket).
    var sent: Int { self.sentBytes.load(ordering: .relaxed) }

    /// Ends the request.
    func sendEnd() {
        self.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// The body of the last answer, when it was text (``TestUpstreamServer``'s `/upload`).
    var text: String { self.seen.value.withLock { $0.text } }

    /// Reads once more (a client created with `reading: false`).
    func readMore() {
        self.channel.eventLoop.execute { self.channel.read() }
    }

    /// Turns reading on for good.
    func readAll() async throws {
        try await self.channel.setOption(.autoRead, value: true).get()
        self.readMore()
    }

    /// What arrived so far.
    var current: Seen { self.seen.value.withLock { $0 } }

    /// Waits until `condition` holds of what arrived, for up to `seconds`.
    /// - Returns: What arrived, whether or not the condition came to hold.
    func wait(seconds: Int = 30, until condition: (Seen) -> Bool) async throws -> Seen {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let seen = self.current
            if condition(seen) { return seen }
            try await Task.sleep(for: .milliseconds(10))
        }
        return self.current
    }

    /// Closes the connection.
    func close() {
        self.channel.close(promise: nil)
    }

    private final class SeenBox: Sendable {
        let value = Mutex(Seen())

        func update(_ change: (inout Seen) -> Void) {
            self.value.withLock { change(&$0) }
        }
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        let box: SeenBox
        var offset = 0

        init(box: SeenBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let client = self.box
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.offset = 0
                client.update {
                    $0.status = Int(head.status.code)
                    $0.contentLength = head.headers["content-length"].first.flatMap { Int($0) }
                }
            case .body(let part):
                let text = String(buffer: part.getSlice(at: part.readerIndex, length: min(part.readableBytes, 200))!)
                client.update { if $0.text.count < 200 { $0.text += text } }
                var part = part
                var intact = true
                while part.readableBytes > 0 {
                    let count = min(part.readableBytes, TestStreamedAnswer.period)
                    intact = intact && part.readSlice(length: count)! == TestStreamedAnswer.bytes(at: self.offset, count: count)
                    self.offset += count
                }
                let offset = self.offset
                client.update {
                    $0.bodyBytes = offset
                    $0.intact = $0.intact && intact
                }
            case .end:
                client.update { $0.ended += 1 }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.box.update { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
