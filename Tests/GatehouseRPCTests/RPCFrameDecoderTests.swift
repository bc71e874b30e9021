@testable import GatehouseRPC
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct RPCFrameDecoderTests {
    private func frame(_ payload: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.utf8.count), endianness: .big)
        buffer.writeString(payload)
        return buffer
    }

    @Test func decodesFramesFedWholeAndByteByByte() throws {
        var twoFrames = self.frame("hello")
        var second = self.frame("gatehouse")
        twoFrames.writeBuffer(&second)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (self.frame("a"), [ByteBuffer(string: "a")]),
                (self.frame(""), [ByteBuffer()]),
                (twoFrames, [ByteBuffer(string: "hello"), ByteBuffer(string: "gatehouse")]),
            ],
            decoderFactory: { RPCFrameDecoder(maximumFrameBytes: 64) }
        )
    }

    @Test func rejectsAnOversizedLengthBeforeItsPayloadArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: 1024)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(1025), endianness: .big)
        #expect(throws: RPCFrameTooLargeError.self) {
            try channel.writeInbound(header)
        }
        _ = try? channel.finish()
    }

    @Test func acceptsAFrameOfExactlyTheMaximum() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: 8)))
        try channel.writeInbound(self.frame("12345678"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "12345678"))
        #expect(try channel.finish().isClean)
    }
}
