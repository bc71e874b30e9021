import Foundation
import GatehouseNIOSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One authenticated connection of an ``RPCClient``.
final class RPCClientConnection: Sendable {
    let channel: any Channel
    private let nextID = Atomic<UInt64>(1)

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects and completes the handshake within the configured connect timeout.
    static func connect(configuration: RPCClientConfiguration, eventLoop: any EventLoop) async throws -> RPCClientConnection {
        let handshake = eventLoop.makePromise(of: Void.self)
        let peer = "\(configuration.host):\(configuration.port)"
        let timeout = TimeAmount(configuration.connectTimeout)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            FlushCoalescingHandler(),
                            ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes, handshakeFrames: 2)),
                            RPCClientChannelHandler(
                                secret: configuration.secret,
                                maximumFrameBytes: configuration.maximumFrameBytes,
                                clientName: configuration.clientName,
                                peer: peer,
                                handshakeTimeout: timeout,
                                handshakePromise: handshake
                            )
                        )
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            handshake.fail(error)
            throw RPCError(.unavailable, "cannot connect to \(peer): \(error)")
        }
        try await handshake.futureResult.get()
        return RPCClientConnection(channel: channel)
    }

    /// Sends a request and waits for its answer envelope.
    func send(method: String, payload: Data, deadline: NIODeadline, traceID: String?) async throws -> Gatehouse_Rpc_Envelope {
        let id = self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let call = RPCOutboundCall(
                    id: id,
                    method: method,
                    payload: payload,
                    traceID: traceID,
                    deadline: deadline,
                    continuation: continuation
                )
                // The write fails only when the pipeline is gone and the handler never took the call.
                let written = self.channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { _ in
                    continuation.resume(throwing: RPCError(.unavailable, "the connection to the server is closed"))
                }
                self.channel.write(RPCClientOutbound.call(call), promise: written)
            }
        } onCancel: {
            self.channel.write(RPCClientOutbound.cancel(id: id), promise: nil)
        }
    }

    /// Waits until the connection closes; closes it when the waiting task is cancelled.
    func waitUntilClosed() async {
        await withTaskCancellationHandler {
            try? await self.channel.closeFuture.get()
        } onCancel: {
            self.channel.close(promise: nil)
        }
    }
}
