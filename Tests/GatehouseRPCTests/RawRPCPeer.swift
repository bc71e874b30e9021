import Foundation
@testable import GatehouseRPC
import NIOCore
import NIOPosix
import SwiftProtobuf

/// Length-prefixed frames of any size: how the hand-driven test peers below read the wire.
struct UnboundedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

/// One end of an RPC connection driven by hand, frame by frame: a peer that sends what Gatehouse's own
/// client and server never would (frames past the other side's maximum, a burst of hellos).
typealias RawRPCChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// Connects to 127.0.0.1:`port` without any handshake.
func connectRawRPC(port: Int) async throws -> RawRPCChannel {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(UnboundedFrameDecoder()))
            return try RawRPCChannel(wrappingChannelSynchronously: channel)
        }
    }
}

/// Listens on a free loopback port for hand-driven server ends.
func listenRawRPC() async throws -> NIOAsyncChannel<RawRPCChannel, Never> {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(UnboundedFrameDecoder()))
            return try RawRPCChannel(wrappingChannelSynchronously: channel)
        }
    }
}

extension ByteBuffer {
    /// The frame's payload parsed as `type`.
    func message<Message: SwiftProtobuf.Message>(_ type: Message.Type) throws -> Message {
        try Message(serializedBytes: Data(self.readableBytesView))
    }
}

/// An `Envelope` as a test peer sends it: id, method and payload.
func envelope(id: UInt64, method: String = "", payload: some SwiftProtobuf.Message) throws -> Gatehouse_Rpc_Envelope {
    var envelope = Gatehouse_Rpc_Envelope()
    envelope.id = id
    envelope.method = method
    envelope.timeoutMs = 10_000
    envelope.payload = try payload.serializedBytes()
    return envelope
}
