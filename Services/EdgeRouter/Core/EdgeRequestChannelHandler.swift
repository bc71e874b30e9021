import Foundation
import GatehouseNIOSupport
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Answers the requests of one HTTP/1.1 connection: a thin shell at the tail of the connection's pipeline
/// over ``EdgeRequestReader``, which assembles whole requests within the body limit.
///
/// Each whole request is handed to the ``EdgeGateway`` in a task that runs on the connection's own
/// event loop (``EventLoopTaskExecutor``), and its answer is written from there: the RPC clients prefer their
/// connection on the caller's loop, so a request, its limiter decision and its answer stay on one thread.
/// NIO's pipelining handler before this one holds a pipelined request back until the answer before it has
/// been written, so one request per connection is in the pipeline at a time and answers leave in order.
///
/// An HTTP upstream's answer longer than its route's bound (``EdgeResponse/bodyStream``) is written as it
/// arrives: with the upstream's `Content-Length` when it declared one, else chunked (an HTTP/1.0 client's
/// connection is closed at its end instead); the upstream connection is read only while this connection is
/// writable; a client that goes away gives the rest up (its upstream connection is closed); a body that breaks
/// off closes this connection, since its head is already sent, and is logged and counted
/// (`gatehouse_edge_upstream_streams_broken_total`). A `HEAD` gets the head alone.
final class EdgeRequestChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let serverName = "gatehouse-edge"

    private let handler: EdgeGateway
    private let http: EdgeConfiguration.HTTP
    private let logger: Logger
    private var reader: EdgeRequestReader
    private var date = HTTPDateHeader()
    /// Made-up request IDs' randomness.
    private var random = BufferedSystemRandomNumberGenerator()
    /// The `413` answer written for a body still arriving; the connection closes once it is sent.
    private var rejection: EventLoopFuture<Void>?
    private var peer = "unknown"
    private var peerIsTrusted = false
    private let executor: EventLoopTaskExecutor
    private var context: ChannelHandlerContext?
    /// The upstream body being written, whether the connection closes at its end, and its request's ID.
    private var streaming: (body: UpstreamBodyStream, closesAfter: Bool, requestID: String)?

    init(handler: EdgeGateway, http: EdgeConfiguration.HTTP, eventLoop: any EventLoop, logger: Logger) {
        self.handler = handler
        self.http = http
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.logger = logger
        self.reader = EdgeRequestReader(maximumBodyBytes: http.maxBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        self.peerIsTrusted = self.http.trustedProxies.contains(self.peer)
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.streaming?.body.cancel()
        self.streaming = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.streaming?.body.cancel()
        self.streaming = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.streaming?.body.resume() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action: EdgeRequestReader.Action
        switch self.unwrapInboundIn(data) {
        case .head(let head): action = self.reader.head(head)
        case .body(let body): action = self.reader.body(body)
        case .end: action = self.reader.end()
        }
        switch action {
        case .none:
            return
        case .sendContinue(let head):
            context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        case .reject(let head, let refusal, let closeAfterAnswer):
            let headers = [("X-Request-ID", RequestID.of(head.headers, using: &self.random))]
            let problem =
                switch refusal {
                case .tooLarge: EdgeResponse.problem(413, "Content Too Large", "the body is larger than \(self.http.maxBodyBytes) bytes", headers: headers)
                case .badHead(let detail): EdgeResponse.problem(400, "Bad Request", detail, headers: headers)
                case .unsupportedTransferCoding(let coding):
                    EdgeResponse.problem(501, "Not Implemented", "the transfer coding '\(coding)' is not supported; only chunked is", headers: headers)
                }
            let written = self.write(problem, answering: head, keepAlive: false, context: context)
            if closeAfterAnswer {
                Self.close(context.channel, after: written)
            } else {
                self.rejection = written
            }
        case .answer(let head, let body):
            self.answer(head, body: body, context: context)
        case .close:
            if let rejection = self.rejection {
                Self.close(context.channel, after: rejection)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("http connection ended", metadata: ["client.peer": "\(self.peer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let (request, pipeline) = (self.request(head, body: body), self.handler)
        self.executor.run({ await pipeline.handle(request) }) { response in
            self.respond(response, answering: head, context: context)
        }
    }

    private func respond(_ response: EdgeResponse, answering head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard self.context != nil else { return }  // the connection closed while the request was answered
        if let rest = response.bodyStream {
            self.stream(response, rest: rest, answering: head, context: context)
            return
        }
        let written = self.write(response, answering: head, keepAlive: head.isKeepAlive, context: context)
        if !head.isKeepAlive {
            Self.close(context.channel, after: written)
        }
    }

    /// Closes the connection once `answer` is written (or failed to be).
    private static func close(_ channel: any Channel, after answer: EventLoopFuture<Void>) {
        answer.whenComplete { _ in channel.close(promise: nil) }
    }

    private func request(_ head: HTTPRequestHead, body: ByteBuffer) -> EdgeRequest {
        var headers: [String: String] = [:]
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            let name = name.lowercased()
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        let (path, query) = Self.pathAndQuery(head.uri)
        let scheme = ForwardedHeaders.clientScheme(
            peerIsTrusted: self.peerIsTrusted, forwarded: headers["forwarded"], forwardedProto: headers["x-forwarded-proto"]
        )
        return EdgeRequest(
            method: head.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body),
            clientIP: self.http.trustedProxies.clientAddress(peer: self.peer, forwardedFor: headers["x-forwarded-for"]),
            requestID: RequestID.of(head.headers, using: &self.random), scheme: scheme
        )
    }

    /// The path and the query (without `?`) of a request target: origin form (`/a?b`) or absolute form
    /// (`http://host/a?b`). Read as bytes; an origin-form target without a query is returned as it is.
    static func pathAndQuery(_ target: String) -> (path: String, query: String?) {
        let bytes = target.utf8
        var start = bytes.startIndex
        if bytes.first != UInt8(ascii: "/"), let scheme = bytes.firstRange(of: "://".utf8) {
            start = bytes[scheme.upperBound...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
        }
        guard let mark = bytes[start...].firstIndex(of: UInt8(ascii: "?")) else {
            if start == bytes.startIndex, !bytes.isEmpty { return (target, nil) }
            return (start == bytes.endIndex ? "/" : String(Substring(bytes[start...])), nil)
        }
        let path = start == mark ? "/" : String(Substring(bytes[start..<mark]))
        return (path, String(Substring(bytes[bytes.index(after: mark)...])))
    }

    /// Writes a response; for `HEAD`, its head only (with the `Content-Length` of the body a `GET` gets).
    private func write(_ response: EdgeResponse, answering request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let (head, bodyAllowed) = self.head(of: response, contentLength: response.body.count, answering: request, keepAlive: keepAlive)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if bodyAllowed, request.method != .HEAD, !response.body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        return context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
    }

    /// Writes a response whose body's rest (`rest`) is written as it arrives, described above.
    private func stream(_ response: EdgeResponse, rest: UpstreamBodyStream, answering request: HTTPRequestHead, context: ChannelHandlerContext) {
        let length = rest.declaredLength
        let isHead = request.method == .HEAD
        // Without a length, an HTTP/1.0 body ends with the connection; a HEAD's head alone is sent, then the
        // connection closes (chunked framing would end it with a last chunk that a HEAD answer must not have).
        let closesAfter = !request.isKeepAlive || (length == nil && (request.version == .http1_0 || isHead))
        let (head, bodyAllowed) = self.head(of: response, contentLength: length, answering: request, keepAlive: !closesAfter)
        let headWritten = context.write(self.wrapOutboundOut(.head(head)))
        guard bodyAllowed, !isHead else {
            rest.cancel()
            if length == nil, isHead {
                context.flush()
                Self.close(context.channel, after: headWritten)
            } else {
                let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
                if closesAfter { Self.close(context.channel, after: written) }
            }
            return
        }
        if !response.body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        context.flush()
        self.streaming = (rest, closesAfter, response.header("X-Request-ID") ?? "-")
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        rest.start { event in
            if loop.inEventLoop {
                handler.value.relay(event)
            } else {
                loop.execute { handler.value.relay(event) }
            }
        }
        if !context.channel.isWritable { rest.pause() }
    }

    /// Writes what the streamed body delivered; stops reading the upstream while the client is not reading.
    private func relay(_ event: UpstreamBodyStream.Event) {
        guard let streaming = self.streaming, let context = self.context else { return }
        switch event {
        case .chunk(let chunk):
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            if !context.channel.isWritable { streaming.body.pause() }
        case .end:
            self.streaming = nil
            let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
            if streaming.closesAfter { Self.close(context.channel, after: written) }
        case .failed(let failure):
            self.streaming = nil
            EdgeMetrics.upstreamStreamsBroken.increment()
            self.logger.warning(
                "upstream answer broke off after its head was sent; client connection closed",
                metadata: ["upstream.failure": "\(failure)", "request.id": "\(streaming.requestID)", "client.peer": "\(self.peer)"]
            )
            context.close(promise: nil)
        }
    }

    /// The response's head: its fields, `Content-Length` when the body's length is known and the status may
    /// have one, `Date`, `Server` and `Connection`; and whether the status may have a body.
    private func head(
        of response: EdgeResponse, contentLength: Int?, answering request: HTTPRequestHead, keepAlive: Bool
    ) -> (HTTPResponseHead, bodyAllowed: Bool) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 4)
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        // No body and no length for 1xx, 204 and 304 (RFC 9110 §8.6).
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        if bodyAllowed, let contentLength { headers.add(name: "Content-Length", value: String(contentLength)) }
        headers.add(name: "Date", value: self.date.current())
        headers.add(name: "Server", value: Self.serverName)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        return (HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers), bodyAllowed)
    }
}
