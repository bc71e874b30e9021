import Foundation
import GatehouseNIOSupport
import Logging
import NIOCore
import SwiftProtobuf

/// Serves one RPC connection: the handshake, then each request frame run by its method's handler in a task
/// on the connection's own event loop, the answer written from there. A thin shell over ``RPCHandshake`` and
/// ``RPCCallAdmission``, at the tail of the connection's pipeline after the frame decoder.
///
/// A request arrives as a frame and is answered as one, by id, in whatever order the calls finish. The
/// connection is not read while its calls are at the bound. Draining begins with ``RPCServerDrainEvent``.
final class RPCServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case handshaking(RPCHandshake.Server)
        case serving
    }

    private let server: RPCServer
    private let handshakeTimeout: Duration
    private var phase: Phase
    private var admission: RPCCallAdmission<Gatehouse_Rpc_Envelope>
    private var timeout: Scheduled<Void>?
    private var readHeld = false
    private var attached = false
    private var logger: Logger
    private let executor: EventLoopTaskExecutor

    init(server: RPCServer, secret: RPCSecret, handshakeTimeout: Duration, maximumInFlight: Int, eventLoop: any EventLoop, logger: Logger) {
        self.server = server
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.handshakeTimeout = handshakeTimeout
        self.phase = .handshaking(RPCHandshake.Server(secret: secret))
        self.admission = RPCCallAdmission(maximum: maximumInFlight)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.attached = true
        self.logger[metadataKey: "rpc.peer"] = "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")"
        if context.channel.isActive { self.begin(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.begin(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.attached = false
        self.timeout?.cancel()
        self.timeout = nil
    }

    /// Sends the server's hello and starts the handshake timeout.
    private func begin(context: ChannelHandlerContext) {
        guard self.timeout == nil, case .handshaking(let handshake) = self.phase else { return }
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(rpcFrameOf: handshake.hello)), promise: nil)
        let (logger, limit, channel) = (self.logger, self.handshakeTimeout, context.channel)
        self.timeout = context.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            logger.warning("closing rpc connection: no handshake within \(limit)")
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch self.phase {
        case .handshaking(let handshake):
            self.answerHandshake(handshake, frame: frame, context: context)
        case .serving:
            guard let request = try? Gatehouse_Rpc_Envelope(serializedBytes: Data(frame.readableBytesView)) else {
                self.logger.warning(
                    "closing rpc connection", metadata: ["rpc.error": "\(RPCError(.protocolError, "a frame after the handshake is not a valid Envelope"))"]
                )
                context.close(promise: nil)
                return
            }
            switch self.admission.received(request) {
            case .start(let request): self.start(request, context: context)
            case .refuse(let request): context.writeAndFlush(self.wrapOutboundOut(self.server.refusal(request)), promise: nil)
            case .wait: break
            }
        }
    }

    private func answerHandshake(_ handshake: RPCHandshake.Server, frame: ByteBuffer, context: ChannelHandlerContext) {
        self.timeout?.cancel()
        self.timeout = nil
        let result: Result<Gatehouse_Rpc_HelloResult, RPCError>
        if let clientHello = try? Gatehouse_Rpc_ClientHello(serializedBytes: Data(frame.readableBytesView)) {
            result = handshake.answer(clientHello)
            if case .success = result {
                self.logger.debug("rpc client authenticated", metadata: ["rpc.client": "\(clientHello.clientName)"])
            }
        } else {
            result = .failure(RPCError(.protocolError, "the first client frame is not a valid ClientHello"))
        }
        switch result {
        case .success(let hello):
            self.phase = .serving
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(rpcFrameOf: hello)), promise: nil)
            if self.admission.mayClose { context.close(promise: nil) }  // shutdown began during the handshake
        case .failure(let error):
            self.logger.warning("rejected rpc handshake", metadata: ["rpc.error": "\(error)"])
            var rejection = Gatehouse_Rpc_HelloResult()
            rejection.failure = error.failure
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(rpcFrameOf: rejection))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Runs a request's handler in a task on this loop; its answer is written from there.
    private func start(_ request: Gatehouse_Rpc_Envelope, context: ChannelHandlerContext) {
        let (server, logger) = (self.server, self.logger)
        self.executor.run({ await server.answer(request, logger: logger) }) { answer in
            self.finish(answer, context: context)
        }
    }

    private func finish(_ answer: ByteBuffer, context: ChannelHandlerContext) {
        guard self.attached else { return }  // the connection closed while the call ran
        // FlushCoalescingHandler sends the answers of one loop tick together.
        context.writeAndFlush(self.wrapOutboundOut(answer), promise: nil)
        if let next = self.admission.finished() {
            self.start(next, context: context)
        } else if self.admission.mayClose {
            context.close(promise: nil)
        } else if self.readHeld, self.admission.mayRead {
            self.readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        guard self.admission.mayRead else {
            self.readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is RPCServerDrainEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let refused = self.admission.drain()
        for request in refused {
            context.write(self.wrapOutboundOut(self.server.refusal(request)), promise: nil)
        }
        context.flush()
        if case .handshaking = self.phase {
            context.close(promise: nil)
        } else if self.admission.mayClose {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? RPCFrameTooLargeError {
            self.logger.warning("closing rpc connection: protocol error", metadata: ["rpc.error": "\(error)"])
        } else {
            self.logger.debug("rpc connection ended", metadata: ["rpc.error": "\(error)"])
        }
        context.close(promise: nil)
    }
}

/// Tells a server connection that graceful shutdown has begun (``RPCServerConnectionHandler``).
struct RPCServerDrainEvent: Sendable {}
