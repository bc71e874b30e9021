import Foundation
import GatehouseNIOSupport
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The edge's public HTTP/1.1 server, on SwiftNIO: every request goes to the ``EdgeRequestHandler`` (which
/// does its own routing from the route file).
///
/// Each connection is read, and its requests answered, by a task that runs on the connection's own event
/// loop (``EventLoopTaskExecutor``); the RPC clients prefer their connection on the caller's loop, so a
/// request, its limiter decision and its answer stay on one thread with no hop between threads.
///
/// Per connection: requests are answered in order (pipelined ones wait their turn); a body over
/// `http.max_body_bytes` is a `413` problem (``EdgeRequestReader``); a request not read and answered within
/// `http.request_timeout_ms` closes the connection (``RequestDeadlineHandler``), as does `http.idle_timeout_ms`
/// without a request; a request that is not valid HTTP/1.1 is a `400` problem and the connection is closed
/// (``MalformedRequestHandler``). On graceful shutdown the server stops accepting, closes idle connections at
/// once, and closes the others as soon as their request in progress is answered.
public final class EdgeHTTPServer: Service, Sendable {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private static let serverName = "gatehouse-edge"

    /// Request heads: at most 80 KiB for the target or any one field, 80 KiB of fields in all, 1,000 fields;
    /// beyond, `400` and the connection is closed.
    private static let decoderLimits = {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 80 * 1024
        limits.maxHeaderListSize = 80 * 1024
        limits.maxHeaderFieldCount = 1000
        return limits
    }()

    private let handler: EdgeRequestHandler
    private let http: EdgeConfiguration.HTTP
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void

    /// Creates the server; nothing listens until ``run()``.
    /// - Parameters:
    ///   - handler: The pipeline.
    ///   - http: Address, port, body limit, idle and request timeouts, trusted proxies.
    ///   - eventLoopGroup: The event loops for the sockets and the requests; the shared singleton by default,
    ///     which the RPC clients use too.
    ///   - logger: Receives server events.
    ///   - onListening: Called with the bound port.
    public init(
        handler: EdgeRequestHandler, http: EdgeConfiguration.HTTP, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.handler = handler
        self.http = http
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onListening = onListening
    }

    /// Binds, serves until graceful shutdown or cancellation, then drains as described above.
    /// - Throws: ``EdgeHTTPServerError`` when the address cannot be bound or accepting fails.
    public func run() async throws {
        let quiesce = ServerQuiescingHelper(group: self.eventLoopGroup)
        let http = self.http
        let logger = self.logger
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: http.host, port: http.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: true, withErrorHandling: false, withEncoderConfiguration: .init(),
                            withDecoderLimitConfiguration: Self.decoderLimits
                        )
                        try channel.pipeline.syncOperations.addHandlers(
                            MalformedRequestHandler(),
                            IdleStateHandler(readTimeout: TimeAmount(http.idleTimeout)),
                            RequestDeadlineHandler(limit: http.requestTimeout, logger: logger)
                        )
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw EdgeHTTPServerError.bindFailed(host: http.host, port: http.port, reason: String(describing: error))
        }
        let port = server.channel.localAddress?.port ?? http.port
        self.logger.info("http server listening", metadata: ["http.host": "\(http.host)", "http.port": "\(port)"])
        await self.onListening(port)
        do {
            try await withGracefulShutdownHandler {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            let executor = EventLoopTaskExecutor(eventLoop: connection.channel.eventLoop)
                            group.addTask(executorPreference: executor) { await self.serve(connection) }
                        }
                    }
                }
            } onGracefulShutdown: {
                quiesce.initiateShutdown(promise: nil)
            }
        } catch is CancellationError {
            // Cancelled outside a ServiceGroup: everything is closed.
        } catch {
            throw EdgeHTTPServerError.serverFailed(reason: String(describing: error))
        }
        self.logger.info("http server stopped", metadata: ["http.port": "\(port)"])
    }

    /// Answers the requests of one connection, in order, until it closes.
    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        var reader = EdgeRequestReader(maximumBodyBytes: self.http.maxBodyBytes)
        var date = HTTPDateHeader()
        var rejection: EventLoopFuture<Void>?
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await part in inbound {
                    let action: EdgeRequestReader.Action
                    switch part {
                    case .head(let head): action = reader.head(head)
                    case .body(let body): action = reader.body(body)
                    case .end: action = reader.end()
                    }
                    switch action {
                    case .none:
                        continue
                    case .sendContinue(let head):
                        channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: .continue)), promise: nil)
                    case .rejectTooLarge(let head, let closeAfterAnswer):
                        let problem = EdgeResponse.problem(
                            413, "Content Too Large", "the body is larger than \(self.http.maxBodyBytes) bytes",
                            headers: [("X-Request-ID", Self.requestID(head.headers))]
                        )
                        let written = Self.write(problem, answering: head, keepAlive: false, date: date.current(), to: channel)
                        if closeAfterAnswer {
                            try await written.get()
                            return
                        }
                        rejection = written
                    case .answer(let head, let body):
                        let response = await self.handler.handle(self.request(head, body: body, peer: peer))
                        let written = Self.write(response, answering: head, keepAlive: head.isKeepAlive, date: date.current(), to: channel)
                        // The answer is awaited when the connection closes after it, and while the client
                        // reads too slowly for the socket to take more: memory stays bounded per connection.
                        if !head.isKeepAlive || !channel.isWritable { try await written.get() }
                        if !head.isKeepAlive { return }
                    case .close:
                        try await rejection?.get()
                        return
                    }
                }
            }
        } catch {
            self.logger.debug("http connection ended", metadata: ["client.peer": "\(peer)", "error": "\(error)"])
        }
    }

    private func request(_ head: HTTPRequestHead, body: ByteBuffer, peer: String) -> EdgeRequest {
        var headers: [String: String] = [:]
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            let name = name.lowercased()
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        let (path, query) = Self.pathAndQuery(head.uri)
        return EdgeRequest(
            method: head.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body),
            clientIP: self.http.trustedProxies.clientAddress(peer: peer, forwardedFor: headers["x-forwarded-for"]), requestID: Self.requestID(head.headers)
        )
    }

    /// The request's `X-Request-ID` when it is short printable ASCII, else a new one.
    static func requestID(_ headers: HTTPHeaders) -> String {
        if let given = headers.first(name: "x-request-id"), given.utf8.count <= 128, given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    /// The path and the query (without `?`) of a request target: origin form (`/a?b`) or absolute form
    /// (`http://host/a?b`).
    static func pathAndQuery(_ target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        if !rest.hasPrefix("/"), let scheme = rest.range(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(where: { $0 == "/" || $0 == "?" }).map { rest[$0...] } ?? ""
        }
        guard let mark = rest.firstIndex(of: "?") else { return (rest.isEmpty ? "/" : String(rest), nil) }
        let path = rest[..<mark]
        return (path.isEmpty ? "/" : String(path), String(rest[rest.index(after: mark)...]))
    }

    /// Writes a response; for `HEAD`, its head only (with the `Content-Length` of the body a `GET` gets).
    private static func write(
        _ response: EdgeResponse, answering request: HTTPRequestHead, keepAlive: Bool, date: String, to channel: any Channel
    ) -> EventLoopFuture<Void> {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 4)
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        // No body and no length for 1xx, 204 and 304 (RFC 9110 §8.6).
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        if bodyAllowed { headers.add(name: "Content-Length", value: String(response.body.count)) }
        headers.add(name: "Date", value: date)
        headers.add(name: "Server", value: Self.serverName)
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if bodyAllowed, request.method != .HEAD, !response.body.isEmpty {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body))), promise: nil)
        }
        return channel.writeAndFlush(HTTPServerResponsePart.end(nil))
    }
}
