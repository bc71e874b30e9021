import Foundation
import GatehouseNIOSupport
import Logging
import NIOCore
import NIOHTTP1

/// Answers the requests of one HTTP/1.1 connection: a thin shell at the tail of the connection's pipeline
/// over ``EdgeRequestReader``, which assembles whole requests within the body limit.
///
/// Each whole request is handed to the ``EdgeRequestHandler`` in a task that runs on the connection's own
/// event loop (``EventLoopTaskExecutor``), and its answer is written from there: the RPC clients prefer their
/// connection on the caller's loop, so a request, its limiter decision and its answer stay on one thread.
/// NIO's pipelining handler before this one holds a pipelined request back until the answer before it has
/// been written, so one request per connection is in the pipeline at a time and answers leave in order.
final class EdgeRequestChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let serverName = "gatehouse-edge"

    private let handler: EdgeRequestHandler
    private let http: EdgeConfiguration.HTTP
    private let logger: Logger
    private var reader: EdgeRequestReader
    private var date = HTTPDateHeader()
    /// Made-up request IDs' randomness.
    private var random = BufferedSystemRandomNumberGenerator()
    /// The `413` answer written for a body still arriving; the connection closes once it is sent.
    private var rejection: EventLoopFuture<Void>?
    private var peer = "unknown"
    private let executor: EventLoopTaskExecutor
    private var attached = false

    init(handler: EdgeRequestHandler, http: EdgeConfiguration.HTTP, eventLoop: any EventLoop, logger: Logger) {
        self.handler = handler
        self.http = http
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.logger = logger
        self.reader = EdgeRequestReader(maximumBodyBytes: http.maxBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        self.attached = true
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.attached = false
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
        guard self.attached else { return }  // the connection closed while the request was answered
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
        return EdgeRequest(
            method: head.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body),
            clientIP: self.http.trustedProxies.clientAddress(peer: self.peer, forwardedFor: headers["x-forwarded-for"]),
            requestID: RequestID.of(head.headers, using: &self.random)
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
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 4)
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        // No body and no length for 1xx, 204 and 304 (RFC 9110 §8.6).
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        if bodyAllowed { headers.add(name: "Content-Length", value: String(response.body.count)) }
        headers.add(name: "Date", value: self.date.current())
        headers.add(name: "Server", value: Self.serverName)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if bodyAllowed, request.method != .HEAD, !response.body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        return context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
    }
}
