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
/// connection is not read while its calls are at the bound. A request frame larger than the server's
/// maximum is answered `FRAME_TOO_LARGE` without being read (``RPCFrameDecoder``); other calls go on. After a
/// failed handshake the connection is closed and nothing more it sent is read, checked or logged. Draining
/// begins with ``RPCServerDrainEvent``.
final class RPCServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = RPCInboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case handshaking(RPCHandshake.Server)
        /// Authenticated: requests run, and answers may be up to the client's maximum frame.
        case serving(clientMaximumFrameBytes: Int)
        /// The handshake failed or timed out: the connection closes, and what else arrives is dropped unread.
        case rejected
    }

    private let server: RPCServer
    private let handshakeTimeout: Duration
    private var phase: Phase
    private var admission: RPCCallAdmission<Gatehouse_Rpc_Envelope>
    private var timeout: Scheduled<Void>?
    private var readHeld = false
    private var attached = false
    private var logger: Logger
    /// The peer's IP address, the key of the handshake failure log's throttle.
    private var peerAddress = "unknown"
    private let executor: EventLoopTaskExecutor

    init(
        server: RPCServer, secret: RPCSecret, maximumFrameBytes: Int, handshakeTimeout: Duration, maximumInFlight: Int,
        eventLoop: any EventLoop, logger: Logger
    ) {
        self.server = server
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.handshakeTimeout = handshakeTimeout
        self.phase = .handshaking(RPCHandshake.Server(secret: secret, maximumFrameBytes: maximumFrameBytes))
        self.admission = RPCCallAdmission(maximum: maximumInFlight)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.attached = true
        let remote = context.channel.remoteAddress
        self.logger[metadataKey: "rpc.peer"] = "\(remote.map { "\($0)" } ?? "unknown")"
        self.peerAddress = remote?.ipAddress ?? "unknown"
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
        let limit = self.handshakeTimeout
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            let (handler, context) = loopBound.value
            guard case .handshaking = handler.phase else { return }
            handler.phase = .rejected
            handler.server.handshakeFailed(RPCError(.deadlineExceeded, "no ClientHello within \(limit)"), address: handler.peerAddress, logger: handler.logger)
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch (self.phase, frame) {
        case (.rejected, _):
            return
        case (.handshaking(let handshake), .payload(let payload)):
            self.answerHandshake(handshake, frame: payload, context: context)
        case (.handshaking, .tooLarge(let oversized)):
            self.rejectHandshake(
                RPCError(.protocolError, "the first client frame has \(oversized.length) bytes; the server accepts at most \(oversized.maximum) (rpc.max_frame_bytes)"),
                context: context
            )
        case (.serving, .payload(let payload)):
            guard let request = try? Gatehouse_Rpc_Envelope(serializedBytes: Data(payload.readableBytesView)) else {
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
        case (.serving, .tooLarge(let oversized)):
            guard let id = oversized.callID else {
                self.logger.warning("skipped an rpc frame that names no call", metadata: ["rpc.error": "\(oversized) (rpc.max_frame_bytes)"])
                return
            }
            context.writeAndFlush(self.wrapOutboundOut(self.server.tooLargeRequestAnswer(id: id, oversized, logger: self.logger)), promise: nil)
        }
    }

    private func answerHandshake(_ handshake: RPCHandshake.Server, frame: ByteBuffer, context: ChannelHandlerContext) {
        guard let clientHello = try? Gatehouse_Rpc_ClientHello(serializedBytes: Data(frame.readableBytesView)) else {
            self.rejectHandshake(RPCError(.protocolError, "the first client frame is not a valid ClientHello"), context: context)
            return
        }
        switch handshake.answer(clientHello) {
        case .success(let accepted):
            self.timeout?.cancel()
            self.timeout = nil
            self.logger.debug("rpc client authenticated", metadata: ["rpc.client": "\(clientHello.clientName)"])
            self.phase = .serving(clientMaximumFrameBytes: accepted.clientMaximumFrameBytes)
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(rpcFrameOf: accepted.result)), promise: nil)
            if self.admission.mayClose { context.close(promise: nil) }  // shutdown began during the handshake
        case .failure(let error):
            self.rejectHandshake(error, context: context)
        }
    }

    /// Answers a failed handshake and closes; from here on nothing the peer sent is read or looked at.
    private func rejectHandshake(_ error: RPCError, context: ChannelHandlerContext) {
        self.timeout?.cancel()
        self.timeout = nil
        self.phase = .rejected
        self.server.handshakeFailed(error, address: self.peerAddress, logger: self.logger)
        var rejection = Gatehouse_Rpc_HelloResult()
        rejection.failure = error.failure
        // Closed now, not once the write completes: the close sends what was written first
        // (FlushCoalescingHandler), and the socket is not read again.
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(rpcFrameOf: rejection)), promise: nil)
        context.close(promise: nil)
    }

    /// Runs a request's handler in a task on this loop; its answer is written from there.
    private func start(_ request: Gatehouse_Rpc_Envelope, context: ChannelHandlerContext) {
        guard case .serving(let clientMaximumFrameBytes) = self.phase else { return }
        let (server, logger) = (self.server, self.logger)
        self.executor.run({ await server.answer(request, clientMaximumFrameBytes: clientMaximumFrameBytes, logger: logger) }) { answer in
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
        if case .rejected = self.phase { return }
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
        switch self.phase {
        case .handshaking, .rejected:
            context.close(promise: nil)
        case .serving:
            if self.admission.mayClose { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("rpc connection ended", metadata: ["rpc.error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Tells a server connection that graceful shutdown has begun (``RPCServerConnectionHandler``).
struct RPCServerDrainEvent: Sendable {}
