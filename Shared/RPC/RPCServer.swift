import Foundation
import GatehouseNIOSupport
import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import SwiftProtobuf

/// Serves registered methods over the Gatehouse RPC protocol (docs/protocol.md).
///
/// A service-lifecycle `Service`: `run()` binds and accepts; each connection is served by an
/// ``RPCServerConnectionHandler``, which runs every call in a task on the connection's own event loop. Calls
/// on one connection run concurrently, up to ``RPCServerConfiguration/maximumInFlightPerConnection``. On
/// graceful shutdown it stops accepting, answers new requests `unavailable`, lets running calls write their
/// answers, closes each connection once it has none, and returns when every connection is closed.
public final class RPCServer: Service, Sendable {
    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
        /// `run()`, waiting for the last connection to close once shutdown began.
        var allClosed: CheckedContinuation<Void, Never>?
    }

    private let configuration: RPCServerConfiguration
    private let handlers: RPCHandlerRegistry
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>
    private let state = Mutex(State())
    private let callTimers: [String: Metrics.Timer]
    private let handshakeFailures = Mutex(RPCHandshakeFailureThrottle())

    /// Creates a server; nothing listens until ``run()``.
    /// - Parameters:
    ///   - configuration: Where to listen and what to accept.
    ///   - handlers: The methods this server answers.
    ///   - eventLoopGroup: The NIO threads to serve on.
    ///   - logger: Receives connection and protocol-error events.
    public init(
        configuration: RPCServerConfiguration,
        handlers: RPCHandlerRegistry,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.handlers = handlers
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.bound = eventLoopGroup.any().makePromise(of: SocketAddress.self)
        var timers: [String: Metrics.Timer] = [:]
        for name in handlers.methodNames {
            timers[name] = Metrics.Timer(label: "gatehouse_rpc_server_duration_seconds", dimensions: [("method", name)])
        }
        self.callTimers = timers
    }

    /// The port the server listens on, once bound.
    /// - Returns: The bound port (useful with port 0).
    /// - Throws: The bind error when ``run()`` could not listen.
    public func localPort() async throws -> Int {
        try await self.bound.futureResult.get().port ?? self.configuration.port
    }

    /// Binds, serves until graceful shutdown or cancellation, then drains and closes.
    /// - Throws: When binding fails (the port is taken or the address is invalid).
    public func run() async throws {
        let configuration = self.configuration
        let serverChannel: any Channel
        do {
            serverChannel = try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard self.admit(channel) else {
                            channel.close(promise: nil)
                            return
                        }
                        try channel.pipeline.syncOperations.addHandlers(
                            FlushCoalescingHandler(),
                            ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes, handshakeFrames: 1)),
                            RPCServerConnectionHandler(
                                server: self, secret: configuration.secret, maximumFrameBytes: configuration.maximumFrameBytes,
                                handshakeTimeout: configuration.handshakeTimeout, maximumInFlight: configuration.maximumInFlightPerConnection,
                                eventLoop: channel.eventLoop, logger: self.logger
                            )
                        )
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            self.bound.fail(error)
            throw RPCConfigurationError("cannot listen on \(configuration.host):\(configuration.port): \(error) (is the port taken?)")
        }
        let address = serverChannel.localAddress!
        self.state.withLock { $0.serverChannel = serverChannel }
        self.bound.succeed(address)
        self.logger.info("rpc server listening", metadata: ["rpc.address": "\(address)", "rpc.methods": "\(self.handlers.methodNames)"])
        // The listening socket closes when shutdown begins, or on its own; either way the connections drain.
        serverChannel.closeFuture.whenComplete { _ in self.beginShutdown() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let waiter = self.state.withLock { state in
                        state.allClosed = continuation
                        return Self.takeWaiterIfDone(&state)
                    }
                    waiter?.resume()
                }
            } onCancel: {
                self.beginShutdown()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        self.logger.info("rpc server stopped", metadata: ["rpc.address": "\(address)"])
    }

    /// Registers an accepted connection, unless shutdown has begun; forgets it when it closes.
    private func admit(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let admitted = self.state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.connections[key] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in
                let waiter = self.state.withLock { state in
                    state.connections.removeValue(forKey: key)
                    return Self.takeWaiterIfDone(&state)
                }
                waiter?.resume()
            }
        }
        return admitted
    }

    private static func takeWaiterIfDone(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard state.shuttingDown, state.connections.isEmpty, state.serverChannel == nil, let waiter = state.allClosed else { return nil }
        state.allClosed = nil
        return waiter
    }

    private func beginShutdown() {
        let serverChannel = self.state.withLock { state in
            state.shuttingDown = true
            return state.serverChannel
        }
        // Connections drain only once the listening socket is closed: a client whose connection drains
        // reconnects at once, and must not reach this server again.
        let drainConnections: @Sendable () -> Void = {
            let (connections, waiter) = self.state.withLock { state in
                state.serverChannel = nil
                return (Array(state.connections.values), Self.takeWaiterIfDone(&state))
            }
            for connection in connections {
                connection.pipeline.fireUserInboundEventTriggered(RPCServerDrainEvent())
            }
            waiter?.resume()
        }
        if let serverChannel {
            serverChannel.close().whenComplete { _ in drainConnections() }
        } else {
            drainConnections()
        }
    }

    /// The answer to a request refused because the server is shutting down.
    func refusal(_ request: Gatehouse_Rpc_Envelope) -> ByteBuffer {
        self.failureFrame(id: request.id, method: request.method, RPCError(.unavailable, "the server is shutting down; retry on another connection"))
    }

    /// The answer to a request frame larger than this server accepts, which was skipped unread.
    func tooLargeRequestAnswer(id: UInt64, _ oversized: RPCOversizedFrame, logger: Logger) -> ByteBuffer {
        logger.warning("refused an rpc request larger than rpc.max_frame_bytes", metadata: ["rpc.error": "\(oversized)"])
        let error = RPCError(
            .frameTooLarge,
            "the request has \(oversized.length) bytes; this server accepts frames of at most \(oversized.maximum) bytes (its rpc.max_frame_bytes)"
        )
        return self.failureFrame(id: id, method: "unknown", error)
    }

    /// Logs a failed handshake, at most once per peer address per ``RPCHandshakeFailureThrottle/interval``, and counts it.
    func handshakeFailed(_ error: RPCError, address: String, logger: Logger) {
        Counter(label: "gatehouse_rpc_handshake_failures_total", dimensions: [("code", error.code.description)]).increment()
        let decision = self.handshakeFailures.withLock { $0.failed(address: address, at: .now) }
        if case .log(let suppressed) = decision {
            logger.warning("rejected rpc handshake", metadata: ["rpc.error": "\(error)", "rpc.suppressed": "\(suppressed)"])
        }
    }

    private func failureFrame(id: UInt64, method: String, _ failure: RPCError) -> ByteBuffer {
        var answer = Gatehouse_Rpc_Envelope()
        answer.id = id
        answer.failure = failure.failure
        Counter(label: "gatehouse_rpc_server_failures_total", dimensions: [("method", method), ("code", failure.code.description)]).increment()
        return ByteBuffer(rpcFrameOf: answer)
    }

    /// Runs one request's handler and builds its answer frame: an answer larger than the client accepts
    /// becomes a `FRAME_TOO_LARGE` failure.
    func answer(_ request: Gatehouse_Rpc_Envelope, clientMaximumFrameBytes: Int, logger: Logger) async -> ByteBuffer {
        let start = ContinuousClock.now
        do {
            guard let handler = self.handlers.handlers[request.method] else {
                throw RPCError(
                    .unimplemented,
                    "no method named '\(request.method)'; this server answers \(self.handlers.methodNames.joined(separator: ", "))"
                )
            }
            let timeout = request.timeoutMs == 0 ? self.configuration.defaultCallTimeout : .milliseconds(request.timeoutMs)
            let context = RPCCallContext(
                deadline: start + timeout,
                traceID: request.traceID.isEmpty ? nil : request.traceID,
                logger: logger,
                maximumAnswerBytes: clientMaximumFrameBytes - RPCFrameLimit.answerEnvelopeBytes
            )
            var answer = Gatehouse_Rpc_Envelope()
            answer.id = request.id
            answer.payload = try await handler(request.payload, context)
            self.callTimers[request.method]?.recordInterval(since: start)
            let frame = ByteBuffer(rpcFrameOf: answer)
            guard frame.rpcFramePayloadBytes <= clientMaximumFrameBytes else {
                logger.warning(
                    "an rpc answer is larger than the client accepts",
                    metadata: ["rpc.method": "\(request.method)", "rpc.answer_bytes": "\(frame.rpcFramePayloadBytes)", "rpc.client_maximum": "\(clientMaximumFrameBytes)"]
                )
                throw RPCError(
                    .frameTooLarge,
                    "the answer to '\(request.method)' has \(frame.rpcFramePayloadBytes) bytes; this client accepts frames of at most \(clientMaximumFrameBytes) bytes"
                )
            }
            return frame
        } catch {
            let failure = error as? RPCError ?? {
                logger.error(
                    "rpc handler failed",
                    metadata: ["rpc.method": "\(request.method)", "rpc.error": "\(String(reflecting: error))"]
                )
                return RPCError(.internal, "the handler for '\(request.method)' failed; the server log has the details")
            }()
            return self.failureFrame(id: request.id, method: request.method, failure)
        }
    }
}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        self.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
