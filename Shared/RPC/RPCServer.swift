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
/// A service-lifecycle `Service`: `run()` binds, accepts, and handles every connection in its own child
/// task; calls on one connection run concurrently, up to
/// ``RPCServerConfiguration/maximumInFlightPerConnection``. On graceful shutdown it stops accepting,
/// answers new requests `unavailable`, lets running calls write their answers, then closes.
public final class RPCServer: Service, Sendable {
    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: RPCConnectionSlots] = [:]
        var shuttingDown = false
        /// Accepted connections not yet taken by ``serve(_:executor:)``. NIO crashes when a connection's
        /// wrapper is dropped unused (as the accept stream does with what it still holds when the server
        /// stops), so each is kept here until served, and the ones never served are closed at the end.
        var unserved: [ObjectIdentifier: NIOAsyncChannel<ByteBuffer, ByteBuffer>] = [:]
    }

    private let configuration: RPCServerConfiguration
    private let handlers: RPCHandlerRegistry
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>
    private let state = Mutex(State())
    private let callTimers: [String: Metrics.Timer]

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
        let maximumFrameBytes = self.configuration.maximumFrameBytes
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: self.eventLoopGroup)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: self.configuration.host, port: self.configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            FlushCoalescingHandler(),
                            ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: maximumFrameBytes))
                        )
                        let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        self.state.withLock { $0.unserved[ObjectIdentifier(channel)] = connection }
                        return connection
                    }
                }
        } catch {
            self.bound.fail(error)
            throw RPCConfigurationError(
                "cannot listen on \(self.configuration.host):\(self.configuration.port): \(error) (is the port taken?)"
            )
        }
        let address = serverChannel.channel.localAddress!
        self.state.withLock { $0.serverChannel = serverChannel.channel }
        self.bound.succeed(address)
        self.logger.info("rpc server listening", metadata: ["rpc.address": "\(address)", "rpc.methods": "\(self.handlers.methodNames)"])

        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await serverChannel.executeThenClose { connections in
                        try await withThrowingDiscardingTaskGroup { group in
                            for try await connection in connections {
                                // The connection's reader and its calls run on the connection's own event loop.
                                let executor = EventLoopTaskExecutor(eventLoop: connection.channel.eventLoop)
                                group.addTask(executorPreference: executor) { await self.serve(connection, executor: executor) }
                            }
                        }
                    }
                } onCancel: {
                    self.beginShutdown()
                }
            } onGracefulShutdown: {
                self.beginShutdown()
            }
        } catch {
            await self.closeUnserved()
            throw error
        }
        await self.closeUnserved()
        self.logger.info("rpc server stopped", metadata: ["rpc.address": "\(address)"])
    }

    /// Closes the accepted connections that were never served (see `State.unserved`).
    private func closeUnserved() async {
        let unserved = self.state.withLock { state in
            defer { state.unserved.removeAll() }
            return Array(state.unserved.values)
        }
        for connection in unserved {
            try? await connection.executeThenClose { _, _ in }
        }
    }

    private func beginShutdown() {
        let serverChannel = self.state.withLock { state in
            state.shuttingDown = true
            return state.serverChannel
        }
        // Connections drain only once the listening socket is closed: a client whose connection drains
        // reconnects at once, and one accepted while the server stops would never be served (NIO crashes
        // on a connection dropped that way).
        let drainConnections: @Sendable () -> Void = {
            for connection in self.state.withLock({ Array($0.connections.values) }) {
                connection.drain()
            }
        }
        if let serverChannel {
            serverChannel.close().whenComplete { _ in drainConnections() }
        } else {
            drainConnections()
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, executor: EventLoopTaskExecutor) async {
        let channel = connection.channel
        let logger = {
            var logger = self.logger
            logger[metadataKey: "rpc.peer"] = "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"
            return logger
        }()
        let slots = RPCConnectionSlots(maximum: self.configuration.maximumInFlightPerConnection, channel: channel)
        let key = ObjectIdentifier(channel)
        let accepted = self.state.withLock { state in
            state.unserved.removeValue(forKey: key)
            guard !state.shuttingDown else { return false }
            state.connections[key] = slots
            return true
        }
        defer { self.state.withLock { _ = $0.connections.removeValue(forKey: key) } }
        guard accepted else {
            // Through executeThenClose, which finishes the connection's writer (a writer dropped
            // unfinished is a crash in NIO).
            try? await connection.executeThenClose { _, _ in }
            return
        }

        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard try await self.handshake(channel: channel, frames: &frames, outbound: outbound, logger: logger) else {
                    return
                }
                try await withThrowingDiscardingTaskGroup { group in
                    while true {
                        await slots.acquire()
                        slots.readerWaits(true)
                        let next = try await frames.next()
                        slots.readerWaits(false)
                        guard let frame = next else {
                            slots.release()
                            return
                        }
                        guard let request = try? Gatehouse_Rpc_Envelope(serializedBytes: Data(frame.readableBytesView)) else {
                            slots.release()
                            throw RPCError(.protocolError, "a frame after the handshake is not a valid Envelope")
                        }
                        group.addTask(executorPreference: executor) {
                            let answer = await self.answer(request, draining: slots.isDraining, logger: logger)
                            // Answers go to the channel directly (the async writer would flush each one);
                            // FlushCoalescingHandler sends the answers of one loop tick together.
                            channel.writeAndFlush(answer, promise: nil)
                            slots.release()
                        }
                    }
                }
            }
        } catch let error as RPCError {
            logger.warning("closing rpc connection", metadata: ["rpc.error": "\(error)"])
        } catch let error as RPCFrameTooLargeError {
            logger.warning("closing rpc connection: protocol error", metadata: ["rpc.error": "\(error)"])
        } catch {
            logger.debug("rpc connection ended", metadata: ["rpc.error": "\(error)"])
        }
    }

    /// Runs the server side of the handshake; returns whether the connection may carry calls.
    private func handshake(
        channel: any Channel,
        frames: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        logger: Logger
    ) async throws -> Bool {
        let handshake = RPCHandshake.Server(secret: self.configuration.secret)
        try await outbound.write(ByteBuffer(rpcFrameOf: handshake.hello))
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(self.configuration.handshakeTimeout)) {
            logger.warning("closing rpc connection: no handshake within \(self.configuration.handshakeTimeout)")
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        guard let first = try await frames.next() else { return false }
        let result: Result<Gatehouse_Rpc_HelloResult, RPCError>
        if let clientHello = try? Gatehouse_Rpc_ClientHello(serializedBytes: Data(first.readableBytesView)) {
            result = handshake.answer(clientHello)
            if case .success = result {
                logger.debug("rpc client authenticated", metadata: ["rpc.client": "\(clientHello.clientName)"])
            }
        } else {
            result = .failure(RPCError(.protocolError, "the first client frame is not a valid ClientHello"))
        }
        switch result {
        case .success(let hello):
            try await outbound.write(ByteBuffer(rpcFrameOf: hello))
            return true
        case .failure(let error):
            logger.warning("rejected rpc handshake", metadata: ["rpc.error": "\(error)"])
            var rejection = Gatehouse_Rpc_HelloResult()
            rejection.failure = error.failure
            try await outbound.write(ByteBuffer(rpcFrameOf: rejection))
            return false
        }
    }

    /// Runs one request's handler and builds its answer frame.
    private func answer(_ request: Gatehouse_Rpc_Envelope, draining: Bool, logger: Logger) async -> ByteBuffer {
        var answer = Gatehouse_Rpc_Envelope()
        answer.id = request.id
        let start = ContinuousClock.now
        do {
            guard !draining else {
                throw RPCError(.unavailable, "the server is shutting down; retry on another connection")
            }
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
                logger: logger
            )
            answer.payload = try await handler(request.payload, context)
            self.callTimers[request.method]?.recordInterval(since: start)
        } catch {
            let failure = error as? RPCError ?? {
                logger.error(
                    "rpc handler failed",
                    metadata: ["rpc.method": "\(request.method)", "rpc.error": "\(String(reflecting: error))"]
                )
                return RPCError(.internal, "the handler for '\(request.method)' failed; the server log has the details")
            }()
            answer.failure = failure.failure
            Counter(
                label: "gatehouse_rpc_server_failures_total",
                dimensions: [("method", request.method), ("code", failure.code.description)]
            ).increment()
        }
        return ByteBuffer(rpcFrameOf: answer)
    }
}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        self.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
