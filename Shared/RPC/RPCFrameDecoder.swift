import NIOCore
import SwiftProtobuf

/// Splits a byte stream into frames of `uint32 big-endian length | payload`.
///
/// A length above the configured maximum is a protocol error raised as soon as the four length bytes
/// arrive: nothing of the claimed size is allocated or awaited. Payloads are slices of the inbound
/// buffer, not copies.
public struct RPCFrameDecoder: ByteToMessageDecoder, Sendable {
    /// Each decoded frame's payload, without the length prefix.
    public typealias InboundOut = ByteBuffer

    /// The largest payload accepted, in bytes.
    public let maximumFrameBytes: Int

    /// Creates a decoder.
    /// - Parameter maximumFrameBytes: The largest payload accepted, in bytes.
    public init(maximumFrameBytes: Int) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    /// Decodes one frame if the buffer holds a whole one.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard length <= self.maximumFrameBytes else {
            throw RPCFrameTooLargeError(length: Int(length), maximum: self.maximumFrameBytes)
        }
        guard buffer.readableBytes >= 4 + Int(length) else {
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(Self.wrapInboundOut(payload))
        return .continue
    }

    /// Decodes what is left at end of stream; a partial frame is dropped with the connection.
    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// A peer announced a frame longer than the configured maximum; the connection is closed.
public struct RPCFrameTooLargeError: Error, Sendable, CustomStringConvertible {
    /// The length the peer announced.
    public let length: Int
    /// The configured maximum.
    public let maximum: Int

    /// Names both sizes and the setting to change.
    public var description: String {
        "frame of \(self.length) bytes exceeds the maximum of \(self.maximum) bytes (rpc.max_frame_bytes)"
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
}
