import Foundation
import NIOCore
import SwiftProtobuf

/// A call handed to the client channel: the request and where its answer goes.
struct RPCOutboundCall: Sendable {
    var id: UInt64
    var method: String
    var payload: Data
    var traceID: String?
    var deadline: NIODeadline
    var continuation: CheckedContinuation<Gatehouse_Rpc_Envelope, any Error>
}

/// What the client writes into its channel.
enum RPCClientOutbound: Sendable {
    /// Send a request; the answer (or failure) resumes the call's continuation.
    case call(RPCOutboundCall)
    /// The caller's task was cancelled: fail the call now and ignore its answer.
    case cancel(id: UInt64)
}

/// The client end of one RPC connection: performs the handshake, then matches answers to calls by id.
///
/// All calls in flight share one timer, set for the earliest deadline. Answers may arrive in any order;
/// answers for unknown ids (calls that timed out or were cancelled) are dropped. A request larger than the
/// server accepts (as its hello announced) is not sent, and an answer larger than this client accepts is
/// skipped unread (``RPCFrameDecoder``): either fails that call alone with `FRAME_TOO_LARGE`. When the
/// connection closes, every pending call fails with `unavailable`.
final class RPCClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = RPCInboundFrame
    typealias OutboundIn = RPCClientOutbound
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingServerHello
        case awaitingHelloResult
        case ready
        case closed
    }

    private struct Pending {
        var method: String
        var deadline: NIODeadline
        var continuation: CheckedContinuation<Gatehouse_Rpc_Envelope, any Error>
    }

    private var state = State.awaitingServerHello
    private var handshake: RPCHandshake.Client
    private let clientName: String
    private let peer: String
    private let handshakePromise: EventLoopPromise<Void>
    private let handshakeTimeout: TimeAmount
    private var handshakeTimer: Scheduled<Void>?
    private var pending: [UInt64: Pending] = [:]
    private var deadlineTimer: Scheduled<Void>?
    private var deadlineTimerFires: NIODeadline?

    init(
        secret: RPCSecret, maximumFrameBytes: Int, clientName: String, peer: String, handshakeTimeout: TimeAmount,
        handshakePromise: EventLoopPromise<Void>
    ) {
        self.handshake = RPCHandshake.Client(secret: secret, maximumFrameBytes: maximumFrameBytes)
        self.clientName = clientName
        self.peer = peer
        self.handshakeTimeout = handshakeTimeout
        self.handshakePromise = handshakePromise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.handshakeTimer = context.eventLoop.scheduleTask(in: self.handshakeTimeout) {
            let (handler, context) = loopBound.value
            handler.failHandshake(
                RPCError(.unavailable, "no RPC handshake from \(handler.peer) within \(handler.handshakeTimeout.nanoseconds / 1_000_000) ms"),
                context: context
            )
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame: ByteBuffer
        switch Self.unwrapInboundIn(data) {
        case .payload(let payload):
            frame = payload
        case .tooLarge(let oversized):
            self.answerTooLarge(oversized, context: context)
            return
        }
        switch self.state {
        case .awaitingServerHello:
            do {
                let hello = try Self.decode(Gatehouse_Rpc_ServerHello.self, frame, what: "ServerHello")
                let answer = try self.handshake.answer(hello, clientName: self.clientName)
                self.state = .awaitingHelloResult
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(rpcFrameOf: answer)), promise: nil)
            } catch {
                self.failHandshake(error, context: context)
            }
        case .awaitingHelloResult:
            do {
                let result = try Self.decode(Gatehouse_Rpc_HelloResult.self, frame, what: "HelloResult")
                try self.handshake.verify(result)
                self.state = .ready
                self.handshakeTimer?.cancel()
                self.handshakePromise.succeed()
            } catch {
                self.failHandshake(error, context: context)
            }
        case .ready:
            guard let answer = try? Gatehouse_Rpc_Envelope(serializedBytes: Data(frame.readableBytesView)) else {
                context.fireErrorCaught(RPCError(.protocolError, "\(self.peer) sent a frame that is not a valid Envelope"))
                return
            }
            self.pending.removeValue(forKey: answer.id)?.continuation.resume(returning: answer)
        case .closed:
            break
        }
    }

    /// An answer frame larger than this client accepts was skipped: its call fails, the others go on. (A
    /// frame that names no call, or a call no longer waited for, is only skipped.)
    private func answerTooLarge(_ oversized: RPCOversizedFrame, context: ChannelHandlerContext) {
        switch self.state {
        case .awaitingServerHello, .awaitingHelloResult:
            self.failHandshake(RPCError(.protocolError, "\(self.peer) sent a handshake \(oversized)"), context: context)
        case .ready:
            guard let id = oversized.callID, let call = self.pending.removeValue(forKey: id) else { return }
            call.continuation.resume(
                throwing: RPCError(
                    .frameTooLarge,
                    "the answer of \(self.peer) to '\(call.method)' has \(oversized.length) bytes; this client accepts frames of at most \(oversized.maximum) bytes"
                )
            )
        case .closed:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch Self.unwrapOutboundIn(data) {
        case .call(let call):
            // Succeeding the promise tells the sender that this handler now owns the continuation.
            promise?.succeed()
            guard case .ready = self.state else {
                call.continuation.resume(throwing: RPCError(.unavailable, "the connection to \(self.peer) is closed"))
                return
            }
            var request = Gatehouse_Rpc_Envelope()
            request.id = call.id
            request.method = call.method
            let remaining = call.deadline - .now()
            request.timeoutMs = UInt32(clamping: max(1, remaining.nanoseconds / 1_000_000))
            if let traceID = call.traceID { request.traceID = traceID }
            request.payload = call.payload
            let frame = ByteBuffer(rpcFrameOf: request)
            guard frame.rpcFramePayloadBytes <= self.handshake.serverMaximumFrameBytes else {
                call.continuation.resume(
                    throwing: RPCError(
                        .frameTooLarge,
                        "the request to '\(call.method)' has \(frame.rpcFramePayloadBytes) bytes; \(self.peer) accepts frames of at most \(self.handshake.serverMaximumFrameBytes) bytes (its rpc.max_frame_bytes)"
                    )
                )
                return
            }
            self.pending[call.id] = Pending(method: call.method, deadline: call.deadline, continuation: call.continuation)
            self.armDeadlineTimer(for: call.deadline, context: context)
            // FlushCoalescingHandler turns the flushes of one loop tick into one write(2).
            context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
        case .cancel(let id):
            self.pending.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
            promise?.succeed()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = RPCError(.unavailable, "the connection to \(self.peer) closed before the answer arrived")
        self.failHandshake(error, context: context)
        self.state = .closed
        self.deadlineTimer?.cancel()
        let pending = self.pending
        self.pending.removeAll()
        for call in pending.values {
            call.continuation.resume(throwing: error)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failHandshake(error, context: context)
        context.close(promise: nil)
    }

    private func armDeadlineTimer(for deadline: NIODeadline, context: ChannelHandlerContext) {
        if let fires = self.deadlineTimerFires, fires <= deadline { return }
        self.deadlineTimer?.cancel()
        self.deadlineTimerFires = deadline
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadlineTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.expireCalls(context: context)
        }
    }

    private func expireCalls(context: ChannelHandlerContext) {
        self.deadlineTimer = nil
        self.deadlineTimerFires = nil
        let now = NIODeadline.now()
        var earliest: NIODeadline?
        for (id, call) in self.pending {
            if call.deadline <= now {
                self.pending.removeValue(forKey: id)
                call.continuation.resume(
                    throwing: RPCError(.deadlineExceeded, "no answer from \(self.peer) to '\(call.method)' before its deadline")
                )
            } else if earliest.map({ call.deadline < $0 }) ?? true {
                earliest = call.deadline
            }
        }
        if let earliest {
            self.armDeadlineTimer(for: earliest, context: context)
        }
    }

    private func failHandshake(_ error: any Error, context: ChannelHandlerContext) {
        switch self.state {
        case .awaitingServerHello, .awaitingHelloResult:
            self.state = .closed
            self.handshakeTimer?.cancel()
            self.handshakePromise.fail(error)
            context.close(promise: nil)
        case .ready, .closed:
            break
        }
    }

    private static func decode<Message: SwiftProtobuf.Message>(_ type: Message.Type, _ frame: ByteBuffer, what: String) throws(RPCError) -> Message {
        do {
            return try Message(serializedBytes: Data(frame.readableBytesView))
        } catch {
            throw RPCError(.protocolError, "expected a \(what) frame from the server")
        }
    }
}

@available(*, unavailable)
extension RPCClientChannelHandler: Sendable {}
