import GatehouseNIOSupport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The operations endpoint of a service: a small HTTP/1.1 server for Prometheus and orchestrators.
///
/// | Request | Answer |
/// | --- | --- |
/// | `GET /metrics` | `200`, the registry in the Prometheus text format 0.0.4 |
/// | `GET /healthz` | `200` `{"status":"ok"}` while the process serves HTTP |
/// | `GET /readyz` | `200` when every ``ReadinessCheck`` passes, else `503`; both list every check |
/// | an ``AdminEndpoint``'s path and method | its answer; `413` problem for a body past its bound |
/// | other path | `404` `application/problem+json` (RFC 9457) |
/// | other method | `405` problem with `Allow: GET, HEAD` (an endpoint's: its method) |
///
/// Run it in a `ServiceGroup` (or call ``run()`` in a task). With port `0` the system picks a free port;
/// ``listeningPort()`` returns it once the socket is bound. On graceful shutdown the server stops
/// accepting, finishes the requests in progress, closes idle connections and returns; cancelling the
/// task closes everything at once. An `AdminServer` runs once.
public final class AdminServer: Service, Sendable {
    private enum Phase {
        case idle
        case listening(port: Int)
        case finished(AdminServerError)
    }

    private struct State {
        var phase: Phase = .idle
        var started = false
        var waiters: [Int: CheckedContinuation<Result<Int, AdminServerError>, Never>] = [:]
        var nextWaiterID = 0
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let readinessChecks: [ReadinessCheck]
    private let endpoints: [AdminEndpoint]
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a server; nothing listens until ``run()``.
    ///
    /// - Parameters:
    ///   - host: The address to listen on, e.g. `127.0.0.1` or `0.0.0.0`.
    ///   - port: The TCP port; `0` lets the system choose (see ``listeningPort()``).
    ///   - registry: The registry `/metrics` renders, e.g. from ``MetricsBootstrap/bootstrap(registry:)``.
    ///   - readinessChecks: The checks `/readyz` runs concurrently, each bounded by its timeout.
    ///   - endpoints: The service's own endpoints.
    ///   - eventLoopGroup: The event loops for the sockets; the shared singleton by default.
    ///   - logger: Receives start, stop and connection-error records.
    public init(
        host: String,
        port: Int,
        registry: PrometheusCollectorRegistry,
        readinessChecks: [ReadinessCheck] = [],
        endpoints: [AdminEndpoint] = [],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.readinessChecks = readinessChecks
        self.endpoints = endpoints
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Creates a service's admin server where its configuration says (`admin.host`, `admin.port`); nothing
    /// listens until ``run()``.
    /// - Parameters:
    ///   - observability: The service's logs and admin configuration.
    ///   - registry: The registry `/metrics` renders.
    ///   - readinessChecks: The checks `/readyz` runs.
    ///   - endpoints: The service's own endpoints.
    ///   - logger: Receives start, stop and connection-error records.
    public convenience init(
        observability: ObservabilityConfiguration, registry: PrometheusCollectorRegistry, readinessChecks: [ReadinessCheck] = [],
        endpoints: [AdminEndpoint] = [], logger: Logger
    ) {
        self.init(
            host: observability.adminHost, port: observability.adminPort, registry: registry, readinessChecks: readinessChecks, endpoints: endpoints,
            logger: logger
        )
    }

    /// Binds the socket and serves until graceful shutdown or cancellation.
    ///
    /// - Throws: ``AdminServerError`` when called a second time, when the address cannot be bound,
    ///   or when accepting connections fails.
    public func run() async throws(AdminServerError) {
        let alreadyStarted = self.state.withLock { state in
            defer { state.started = true }
            return state.started
        }
        guard !alreadyStarted else { throw .alreadyStarted }

        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: self.host, port: self.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let failure = AdminServerError.bindFailed(host: self.host, port: self.port, reason: String(describing: error))
            self.finish(failure)
            throw failure
        }

        let boundPort = server.channel.localAddress?.port ?? self.port
        self.publish(port: boundPort)
        self.logger.info("admin server listening", metadata: ["admin.host": "\(self.host)", "admin.port": "\(boundPort)"])

        do {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections.cancelOnGracefulShutdown() {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch is CancellationError {
            // Cancellation is the ordinary way to stop outside a ServiceGroup.
        } catch {
            let failure = AdminServerError.serverFailed(reason: String(describing: error))
            self.finish(failure)
            throw failure
        }
        self.finish(.stopped)
        self.logger.info("admin server stopped", metadata: ["admin.port": "\(boundPort)"])
    }

    /// The TCP port the server listens on, waiting until ``run()`` has bound it.
    ///
    /// - Throws: ``AdminServerError`` when binding failed, the server already stopped, or the waiting task was cancelled.
    public func listeningPort() async throws(AdminServerError) -> Int {
        let id = self.state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Int, AdminServerError>, Never>) in
                self.state.withLock { state in
                    switch state.phase {
                    case .listening(let port):
                        continuation.resume(returning: .success(port))
                    case .finished(let error):
                        continuation.resume(returning: .failure(error))
                    case .idle where Task.isCancelled:
                        continuation.resume(returning: .failure(.cancelled))
                    case .idle:
                        state.waiters[id] = continuation
                    }
                }
            }
        } onCancel: {
            self.state.withLock { state in state.waiters.removeValue(forKey: id) }?
                .resume(returning: .failure(.cancelled))
        }
        return try result.get()
    }

    // MARK: - Connections

    /// Serves the requests of one connection until the client closes it, asks to close it, or shutdown begins.
    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead?
                // The body of a request to an endpoint, until it is past the endpoint's bound (then `nil`:
                // the rest is read and discarded, and the answer is `413`).
                var body: [UInt8]? = []
                var route = AdminRoute.notFound(path: "/")
                var endpoint: AdminEndpoint?
                for try await part in inbound.cancelOnGracefulShutdown() {
                    switch part {
                    case .head(let head):
                        request = head
                        body = []
                        route = AdminRoute(method: head.method.rawValue, target: head.uri, endpoints: self.endpoints.map { ($0.path, $0.method) })
                        endpoint = if case .endpoint(let path) = route { self.endpoints.first { $0.path == path } } else { nil }
                    case .body(let chunk):
                        guard let bound = endpoint?.maximumBodyBytes, let received = body else { continue }
                        body = received.count + chunk.readableBytes <= bound ? received + chunk.readableBytesView : nil
                    case .end:
                        guard let head = request else { continue }
                        request = nil
                        let response: AdminResponse
                        if let endpoint {
                            response = await self.response(to: endpoint, head: head, body: body)
                        } else {
                            response = await self.response(to: route)
                        }
                        try await Self.write(response, answering: head, to: outbound)
                        if !head.isKeepAlive { return }
                    }
                }
            }
        } catch {
            self.logger.debug("admin connection failed", metadata: ["error": "\(error)"])
        }
    }

    private func response(to route: AdminRoute) async -> AdminResponse {
        switch route {
        case .metrics:
            return .metrics(self.registry.emitToBuffer())
        case .health:
            return .health()
        case .readiness:
            return .readiness(await self.evaluateReadiness())
        case .endpoint(let path):
            // Never: an endpoint's requests go to `response(to:head:body:)`.
            return .notFound(path: path)
        case .notFound(let path):
            return .notFound(path: path)
        case .methodNotAllowed(let method, let path, let allowed):
            return .methodNotAllowed(method: method, path: path, allowed: allowed)
        }
    }

    /// An endpoint's answer; `413` for a body past its bound (`nil`).
    private func response(to endpoint: AdminEndpoint, head: HTTPRequestHead, body: [UInt8]?) async -> AdminResponse {
        guard let body else {
            return .problem(
                status: 413, title: "Content Too Large", detail: "\(endpoint.path) takes a body of at most \(endpoint.maximumBodyBytes) bytes"
            )
        }
        return await endpoint.respond(AdminEndpoint.Request(headers: head.headers.map { ($0.name, $0.value) }, body: body))
    }

    private func evaluateReadiness() async -> [ReadinessCheckResult] {
        await self.readinessChecks.concurrentMap { check in await check.evaluate() }
    }

    private static func write(
        _ response: AdminResponse,
        answering request: HTTPRequestHead,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders(response.headers)
        headers.add(name: "Content-Length", value: String(response.body.count))
        if !request.isKeepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.major == 1, request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        try await outbound.write(.head(head))
        if request.method != .HEAD, !response.body.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        try await outbound.write(.end(nil))
    }

    // MARK: - Listening state

    private func publish(port: Int) {
        let waiters = self.state.withLock { state in
            state.phase = .listening(port: port)
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters {
            waiter.resume(returning: .success(port))
        }
    }

    private func finish(_ error: AdminServerError) {
        let waiters = self.state.withLock { state in
            state.phase = .finished(error)
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters {
            waiter.resume(returning: .failure(error))
        }
    }
}
