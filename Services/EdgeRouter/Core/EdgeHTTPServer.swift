import GatehouseNIOSupport
import Logging
import Metrics
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The edge's public HTTP/1.1 server, on SwiftNIO: every request goes to the ``EdgeGateway`` (which
/// does its own routing from the route file). Each connection's pipeline is three handlers: the head
/// timeout's (``RequestHeadDeadlineHandler``, on raw bytes), SwiftNIO's strict request decoder, and
/// ``EdgeConnectionHandler``, which does the rest.
///
/// Per connection: requests are answered in order (pipelined ones wait their turn), each by a task on the
/// connection's event loop; a request head not complete within `http.head_timeout_ms` of its first bytes
/// closes the connection; a head over `http.max_head_bytes` or ``maximumHeaderFields`` fields is a `431`
/// problem and the connection is closed; a body over `http.max_body_bytes` is a `413` problem
/// (``EdgeRequestReader``); a request not read and answered within `http.request_timeout_ms` of its head
/// closes the connection, as does `http.idle_timeout_ms` without a request; a request that is not valid
/// HTTP/1.1 is a `400` problem and the connection is closed; while the client reads answers more slowly
/// than they are written, the connection is not read, so memory stays bounded per connection. At most
/// `http.max_connections` are held at once: one more is answered `503` and closed
/// (``ConnectionRefusalHandler``). On graceful shutdown the server stops accepting, closes idle connections
/// at once, and closes the others as soon as their request in progress is answered, and the gateway's HTTP
/// upstreams close their idle connections at once and their busy ones when their exchange ends
/// (``HTTPUpstreamRoutes/shutDown()``); ``run()`` returns when every client connection is closed.
package final class EdgeHTTPServer: Service, Sendable {
    /// The most header fields a request head may have (as Apache's `LimitRequestFields` and HAProxy's
    /// `tune.http.maxhdr`, about 100); beyond, `431`.
    static let maximumHeaderFields = 100

    /// The decoder's limits: `maxHeadBytes` for the target and header names and values together (and so for
    /// any one of them), ``maximumHeaderFields`` fields; beyond, the decoder reports `headerOverflow`.
    static func decoderLimits(maxHeadBytes: Int) -> NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeadBytes
        limits.maxHeaderListSize = maxHeadBytes
        limits.maxHeaderFieldCount = Self.maximumHeaderFields
        return limits
    }

    private let handler: EdgeGateway
    private let http: EdgeConfiguration.HTTP
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void

    /// Creates the server; nothing listens until ``run()``.
    /// - Parameters:
    ///   - handler: The pipeline.
    ///   - http: Address, port, connection cap, head and body limits, head, idle and request timeouts, trusted proxies.
    ///   - eventLoopGroup: The event loops for the sockets and the requests; the shared singleton by default,
    ///     which the RPC clients use too.
    ///   - logger: Receives server events.
    ///   - onListening: Called with the bound port.
    package init(
        handler: EdgeGateway, http: EdgeConfiguration.HTTP, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.handler = handler
        self.http = http
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.onListening = onListening
    }

    /// Binds, serves until graceful shutdown or cancellation, then drains as described above.
    /// - Throws: ``EdgeHTTPServerError`` when the address cannot be bound.
    package func run() async throws {
        let quiesce = ServerQuiescingHelper(group: self.eventLoopGroup)
        let (handler, http, logger) = (self.handler, self.http, self.logger)
        let limits = Self.decoderLimits(maxHeadBytes: http.maxHeadBytes)
        let admission = ConnectionAdmission(limit: http.maxConnections)
        let refusal = ConnectionRefusalHandler.answer(maximumConnections: http.maxConnections)
        FileDescriptorLimit.raise(toHold: http.maxConnections, logger: logger)
        let server: any Channel
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
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        guard admission.admit() else {
                            try pipeline.addHandler(ConnectionRefusalHandler(answer: refusal))
                            return
                        }
                        EdgeMetrics.connections.increment()
                        channel.closeFuture.whenComplete { _ in
                            admission.release()
                            EdgeMetrics.connections.decrement()
                        }
                        let headDeadline = RequestHeadDeadlineHandler(limit: http.headTimeout, logger: logger)
                        let decoder = HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)
                        try pipeline.addHandlers(
                            headDeadline,
                            ByteToMessageHandler(decoder),
                            EdgeConnectionHandler(handler: handler, http: http, headDeadline: headDeadline, eventLoop: channel.eventLoop, logger: logger)
                        )
                    }
                }
                .bind(host: http.host, port: http.port)
                .get()
        } catch {
            throw EdgeHTTPServerError.bindFailed(host: http.host, port: http.port, reason: String(describing: error))
        }
        let port = server.localAddress?.port ?? http.port
        self.logger.info("http server listening", metadata: ["http.host": "\(http.host)", "http.port": "\(port)"])
        await self.onListening(port)
        // Completed once the listening socket and every connection are closed. The server channel closes when
        // shutdown begins, or on its own; either way the connections are then drained.
        let drained = server.eventLoop.makePromise(of: Void.self)
        server.closeFuture.whenComplete { _ in quiesce.initiateShutdown(promise: drained) }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await drained.futureResult.get()
            } onCancel: {
                quiesce.initiateShutdown(promise: drained)
            }
        } onGracefulShutdown: {
            quiesce.initiateShutdown(promise: drained)
            handler.httpUpstreams.shutDown()
        }
        handler.httpUpstreams.shutDown()
        self.logger.info("http server stopped", metadata: ["http.port": "\(port)"])
    }
}
