import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on a loopback port, standing in for a team's API behind an HTTP upstream route:
/// `/echo` answers the request's header fields as `name: value` lines, `/slow?ms=N` answers after N ms,
/// `/drop` closes the connection without answering, `/bytes?n=N` answers N bytes, `/status?code=N` that
/// status (`/status?dated` a `200` with the origin's own `Date`, ``originDate``; `/status?field=KIND` a `200`
/// with an `X-Probe` field no parser may accept, ``malformedFieldValues``); `GET /cache/D` answers its request count with `Cache-Control: D` (`_` standing for `=`: `max-age_60`),
/// any other method on `/cache/…` is `204`; `/vary` answers its `Accept` and count with `Vary: Accept`;
/// `GET /etag/D` and `/modified/D` answer the current version (``publish(version:)``) with `Cache-Control: D`
/// and an `ETag` (`/etag`) or a `Last-Modified` (`/modified`), `Link`, `X-Upstream-Note` and
/// `Set-Cookie` when the query says `cookie`, and `304` to a matching `If-None-Match`/`If-Modified-Since`
/// (500 ms late when the query says `slow`); an answer to a conditional request says `Cache-Control: D2`
/// instead when the query says `then=D2`; `/stream?…` answers a long patterned body as the client reads it
/// (``TestStreamedAnswer``), `/upload` checks and counts a patterned request body (or stops reading it) as it
/// arrives and answers `received N intact B` (``TestStreamedAnswer/Upload``); once told, every request is
/// `503`. It counts the connections it accepted (and those still open) and the requests it answered, and, of
/// the validator paths', the conditional requests and the `304`s.
final class TestUpstreamServer: Sendable {
    private let channel: any Channel
    private let box: CountsBox

    /// The values of `X-Probe` that `/status?field=KIND` answers with, by kind: a bare CR, a bare LF, a NUL,
    /// and an obsolete line folding (CR LF and a space inside the value).
    static let malformedFieldValues = ["cr": "a\rb", "lf": "a\nb", "nul": "a\u{0}b", "fold": "a\r\n b"]

    /// The `Date` that `/status?dated` answers with.
    static let originDate = "Sun, 06 Nov 1994 08:49:37 GMT"

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
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withOutboundHeaderValidation: false)
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
    /// Requests to `/etag/…` and `/modified/…` that carried `If-None-Match` or `If-Modified-Since`.
    var conditionalRequests: Int { self.box.counts.withLock { $0.conditional } }
    /// `304` answers given.
    var notModified: Int { self.box.counts.withLock { $0.notModified } }

    /// Changes what `/etag/…` and `/modified/…` answer: a new version has a new `ETag` and `Last-Modified`.
    func publish(version: Int) {
        self.box.counts.withLock { $0.version = version }
    }
    /// Connections accepted and not closed yet.
    var openConnections: Int { self.box.openConnections.load(ordering: .relaxed) }
    /// What `/stream` answers have written, and the release of those told to hold.
    var streams: TestStreamedAnswer.Controls { self.box.streams }

    /// Makes every later request answer `503`, as an upstream in trouble would.
    func failEveryRequest() {
        self.box.counts.withLock { $0.failing = true }
    }

    /// Makes later requests answer as usual again.
    func recover() {
        self.box.counts.withLock { $0.failing = false }
    }

    /// Stops listening (open connections stay until their peer closes them).
    func stop() {
        self.channel.close(promise: nil)
    }

    final class CountsBox: Sendable {
        let counts = Mutex((connections: 0, requests: 0, failing: false, version: 1, conditional: 0, notModified: 0))
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
                // A HEAD's answer has the GET's Content-Length and no body (RFC 9110 §9.3.2).
                if head.method != .HEAD { context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
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
            case _ where path.hasPrefix("/etag/") || path.hasPrefix("/modified/"):
                self.answerValidated(head, path: path, query: query, context: context)
            case "/status" where query.contains("dated"):
                // An origin's own `Date` (a fixed one, so a test can tell it from the edge's).
                self.box.counts.withLock { $0.requests += 1 }
                let headers = HTTPHeaders([("Content-Length", "6"), ("Content-Type", "text/plain"), ("Date", TestUpstreamServer.originDate)])
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "dated\n")))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            case "/status" where query.hasPrefix("field="):
                // A field no HTTP/1.1 parser may accept (the server writes it as it is: no outbound validation).
                let value = TestUpstreamServer.malformedFieldValues[String(query.dropFirst("field=".count))] ?? "plain"
                self.box.counts.withLock { $0.requests += 1 }
                let headers = HTTPHeaders([("Content-Length", "2"), ("Content-Type", "text/plain"), ("X-Probe", value)])
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
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

        private func answerValidated(_ head: HTTPRequestHead, path: String, query: String, context: ChannelHandlerContext) {
            let byETag = path.hasPrefix("/etag/")
            let options = query.split(separator: "&")
            let isConditional = head.headers.contains(name: "If-None-Match") || head.headers.contains(name: "If-Modified-Since")
            let then = options.first { $0.hasPrefix("then=") }.map { $0.dropFirst("then=".count) }
            let written = isConditional ? then ?? path.split(separator: "/").last : path.split(separator: "/").last
            let directive = String(written.map { $0.map { $0 == "_" ? "=" : $0 } } ?? [])
            let (version, requests) = self.box.counts.withLock { counts in
                counts.requests += 1
                if isConditional { counts.conditional += 1 }
                return (counts.version, counts.requests)
            }
            let etag = "\"v\(version)\""
            let lastModified = "Sun, 0\(version) Nov 2026 08:49:37 GMT"
            let matches = byETag ? head.headers["If-None-Match"].first == etag : head.headers["If-Modified-Since"].first == lastModified
            var headers = HTTPHeaders([("Cache-Control", directive)])
            headers.add(name: byETag ? "ETag" : "Last-Modified", value: byETag ? etag : lastModified)
            if matches {
                self.box.counts.withLock { $0.notModified += 1 }
                headers.add(name: "X-Upstream-Note", value: "confirmed \(requests)")
                let answer = { [headers] in
                    context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .notModified, headers: headers))), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
                guard options.contains("slow") else { return answer() }
                let bound = NIOLoopBound(answer, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(500)) { bound.value() }
                return
            }
            let body = "version \(version) answer \(requests)"
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Content-Type", value: "text/plain")
            headers.add(name: "Link", value: "</next>; rel=\"next\"")
            headers.add(name: "X-Upstream-Note", value: "answer \(requests)")
            if options.contains("cookie") { headers.add(name: "Set-Cookie", value: "session=secret-\(requests)") }
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
