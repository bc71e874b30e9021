import NIOCore
import SwiftProtobuf

/// Splits a byte stream into frames of `uint32 big-endian length | payload` (docs/protocol.md, "Frames").
///
/// A frame within the maximum is handed on as ``RPCInboundFrame/payload(_:)``, a slice of the inbound
/// buffer, not a copy. A frame whose announced length exceeds the maximum is not read: once its first bytes
/// are in (at most ``RPCOversizedFrame/callIDPrefixBytes``, enough to find the call it belongs to; none for
/// a handshake frame, which belongs to no call) the decoder hands on ``RPCInboundFrame/tooLarge(_:)`` and
/// then drops the frame's bytes as they arrive, holding none of them, and goes on with the next frame. What
/// to do about it (fail that call, or the handshake) is for the handler after it; the connection stays usable.
struct RPCFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RPCInboundFrame

    private enum State {
        /// The next bytes are a frame's length.
        case atFrameStart
        /// The next `remaining` bytes belong to an oversized frame and are dropped.
        case skipping(remaining: Int)
    }

    /// The largest payload accepted, in bytes.
    let maximumFrameBytes: Int
    private var state = State.atFrameStart
    /// How many of the next frames are handshake frames, which carry no call.
    private var handshakeFramesLeft: Int

    /// Creates a decoder.
    /// - Parameters:
    ///   - maximumFrameBytes: The largest payload accepted, in bytes.
    ///   - handshakeFrames: How many frames open the connection before any call: 1 for a server (the
    ///     `ClientHello`), 2 for a client (`ServerHello`, `HelloResult`). One of them that is too long is
    ///     reported as soon as its length is read.
    init(maximumFrameBytes: Int, handshakeFrames: Int) {
        self.maximumFrameBytes = maximumFrameBytes
        self.handshakeFramesLeft = handshakeFrames
    }

    /// Decodes one frame, or skips what arrived of an oversized one.
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch self.state {
        case .skipping(let remaining):
            let skipped = min(remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: skipped)
            guard skipped == remaining else {
                self.state = .skipping(remaining: remaining - skipped)
                return .needMoreData
            }
            self.state = .atFrameStart
            return .continue
        case .atFrameStart:
            guard let announced = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
                return .needMoreData
            }
            let length = Int(announced)
            guard length > self.maximumFrameBytes else {
                guard buffer.readableBytes >= 4 + length else { return .needMoreData }
                buffer.moveReaderIndex(forwardBy: 4)
                self.handshakeFramesLeft = max(0, self.handshakeFramesLeft - 1)
                context.fireChannelRead(Self.wrapInboundOut(.payload(buffer.readSlice(length: length)!)))
                return .continue
            }
            let callID: UInt64?
            if self.handshakeFramesLeft > 0 {
                self.handshakeFramesLeft -= 1
                callID = nil
            } else {
                let prefixBytes = min(length, RPCOversizedFrame.callIDPrefixBytes)
                guard buffer.readableBytes >= 4 + prefixBytes else { return .needMoreData }
                callID = RPCOversizedFrame.leadingCallID(buffer.getSlice(at: buffer.readerIndex + 4, length: prefixBytes)!)
            }
            buffer.moveReaderIndex(forwardBy: 4)
            self.state = .skipping(remaining: length)
            context.fireChannelRead(Self.wrapInboundOut(.tooLarge(RPCOversizedFrame(length: length, maximum: self.maximumFrameBytes, callID: callID))))
            return .continue
        }
    }

    /// Decodes what is left at end of stream; a partial frame is dropped with the connection.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

extension ByteBuffer {
    /// One frame holding `message`: its serialized length as `uint32` big-endian, then its bytes.
    init(rpcFrameOf message: some SwiftProtobuf.Message) {
        // Serializing an in-memory proto3 message cannot fail: it has no required fields to miss.
        let bytes: [UInt8] = (try? message.serializedBytes()) ?? []
        self.init()
        self.reserveCapacity(4 + bytes.count)
        self.writeInteger(UInt32(bytes.count), endianness: .big)
        self.writeBytes(bytes)
    }

    /// The payload length of a frame built by ``init(rpcFrameOf:)``.
    var rpcFramePayloadBytes: Int { self.readableBytes - 4 }
}
