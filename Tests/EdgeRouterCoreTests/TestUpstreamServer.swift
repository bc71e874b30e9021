import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on a loopback port, standing in for a team's API behind an HTTP upstream route:
/// `/echo` answers the request's header fields as `name: value` lines, `/slow?ms=N` answers after N ms,
/// `/drop` closes the connection without answering, `/bytes?n=N` answers N bytes, `/status?code=N` that
/// status; `GET /cache/D` answers its request count with `Cache-Control: D` (`_` standing for `=`: `max-age_60`),
/// any other method on `/cache/…` is `204`; `/vary` answers its `Accept` and count with `Vary: Accept`; `/stream?…`
/// answers a long patterned body as the client reads it (``TestStreamedAnswer``), `/upload` checks and counts a
/// patterned request body (or stops reading it) as it arrives and answers `received N intact B` (``TestStreamedAnswer/Upload``); once told, every request is `503`. It
/// counts the connections it accepted (and those still open) and the requests it answered.
final class TestUpstreamServer: Sendable {
    private let channel: any Channel
    private let box: CountsBox

    /// The port it listens on.
    let port: Int

    private init(channel: any Channel, box: CountsBox) throws {
        self.channel = channel
        self.box = box
        guard let port = channel.localAddress?.port else { throw ChannelError.unknownLocalAddress }
        self.port = port
    }

    /// Starts a server on a free loopback port.
    static func start() async throws -> TestUpstreamServer {
        let box = CountsBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.counts.withLock { $0.connections += 1 }
                box.openConnections.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in box.openConnections.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return try TestUpstreamServer(channel: channel, box: box)
    }

    /// Connections accepted so far.
    var connections: Int { self.box.counts.withLock { $0.connections } }
    /// Requests answered so far.
    var requests: Int { self.box.counts.withLock { $0.requests } }
    /// Connections accepted and not closed yet.
    var openConnections: Int { self.box.openConnections.load(ordering: .relaxed) }
    /// What `/stream` answers have written, and the release of those told to hold.
    var streams: TestStreamedAnswer.Controls { self.box.streams }

    /// Makes every later request answer `503`, as an upstream in trouble would.
    func failEveryRequest() {
        self.box.counts.withLock { $0.failing = true }
    }

    /// Stops listening (open connections stay until their peer closes them).
    func stop() {
        self.channel.close(promise: nil)
    }

    final class CountsBox: Sendable {
        let counts = Mutex((connections: 0, requests: 0, failing: false))
        let openConnections = Atomic<Int>(0)
        let streams = TestStreamedAnswer.Controls()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let box: CountsBox
        var head: HTTPRequestHead?
        var upload: TestStreamedAnswer.Upload?

        init(box: CountsBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.upload = head.uri.hasPrefix("/upload") ? TestStreamedAnswer.Upload(query: String(head.uri.split(separator: "?").last ?? "")) : nil
                if self.upload?.stalls == true { try? context.channel.syncOptions?.setOption(.autoRead, value: false) }
            case .body(let part):
                guard var upload = self.upload else { break }
                if !upload.receive(part, controls: self.box.streams) { context.close(promise: nil) }
                self.upload = upload
            case .end:
                guard let head = self.head else { return }
                self.respond(to: head, context: context)
            }
        }

        private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
            let parts = head.uri.split(separator: "?", maxSplits: 1)
            let path = parts.first.map(String.init) ?? "/"
            let query = parts.count > 1 ? String(parts[1]) : ""
            let number = Int(query.split(separator: "=").last ?? "") ?? 0
            let write = { (status: HTTPResponseStatus, body: String) in
                self.box.counts.withLock { $0.requests += 1 }
                var headers = HTTPHeaders([("Content-Length", "\(body.utf8.count)"), ("Content-Type", "text/plain")])
                if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            if self.box.counts.withLock({ $0.failing }) {
                write(.serviceUnavailable, "failing")
                return
            }
            switch path {
            case "/echo":
                write(.ok, head.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n"))
            case "/slow":
                let bound = NIOLoopBound((write, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(number))) { bound.value.0(.ok, "slow") }
            case "/drop":
                context.close(promise: nil)
            case "/bytes":
                write(.ok, String(repeating: "x", count: number))
            case _ where path.hasPrefix("/cache/") && head.method != .GET:
                write(.noContent, "")
            case _ where path.hasPrefix("/cache/"):
                let directive = String(path.dropFirst("/cache/".count).map { $0 == "_" ? "=" : $0 })
                self.box.counts.withLock { $0.requests += 1 }
                let body = "answer \(self.box.counts.withLock { $0.requests })"
                let headers = HTTPHeaders([("Content-Length", "\(body.utf8.count)"), ("Content-Type", "text/plain"), ("Cache-Control", directive)])
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            case "/vary":
                self.box.counts.withLock { $0.requests += 1 }
                let body = "\(head.headers["Accept"].first ?? "none") \(self.box.counts.withLock { $0.requests })"
                let headers = HTTPHeaders([
                    ("Content-Length", "\(body.utf8.count)"), ("Content-Type", "text/plain"), ("Cache-Control", "max-age=60"), ("Vary", "Accept"),
                ])
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            case "/status":
                write(HTTPResponseStatus(statusCode: number), "status \(number)")
            case "/upload":
                let upload = self.upload ?? TestStreamedAnswer.Upload(query: "")
                write(.ok, "received \(upload.received) intact \(upload.intact)")
            case "/stream":
                self.box.counts.withLock { $0.requests += 1 }
                TestStreamedAnswer(query: query, controls: self.box.streams).start(context: context)
            default:
                write(.notFound, "no such path")
            }
        }
    }
}
