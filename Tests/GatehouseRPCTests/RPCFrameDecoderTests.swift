@testable import GatehouseRPC
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct RPCFrameDecoderTests {
    private func frame(_ payload: String) -> ByteBuffer {
        self.frame(bytes: Array(payload.utf8))
    }

    private func frame(bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(bytes.count), endianness: .big)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// An `Envelope` with `id` (field 1, varint) first, padded to `length` bytes.
    private func envelopeBytes(id: UInt64, length: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x08]
        var rest = id
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
        return bytes + [UInt8](repeating: 0x2A, count: length - bytes.count)
    }

    @Test func decodesFramesFedWholeAndByteByByte() throws {
        var twoFrames = self.frame("hello")
        var second = self.frame("gatehouse")
        twoFrames.writeBuffer(&second)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (self.frame("a"), [.payload(ByteBuffer(string: "a"))]),
                (self.frame(""), [.payload(ByteBuffer())]),
                (twoFrames, [.payload(ByteBuffer(string: "hello")), .payload(ByteBuffer(string: "gatehouse"))]),
            ],
            decoderFactory: { RPCFrameDecoder(maximumFrameBytes: 64, handshakeFrames: 0) }
        )
    }

    @Test func anOversizedFrameIsReportedWithItsCallSkippedAndTheNextFrameDecodes() throws {
        var identified = self.frame(bytes: self.envelopeBytes(id: 300, length: 100))
        var after = self.frame("after")
        identified.writeBuffer(&after)
        var anonymous = self.frame(bytes: [0x12] + [UInt8](repeating: 0, count: 99))
        var next = self.frame("next")
        anonymous.writeBuffer(&next)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (identified, [.tooLarge(RPCOversizedFrame(length: 100, maximum: 64, callID: 300)), .payload(ByteBuffer(string: "after"))]),
                (anonymous, [.tooLarge(RPCOversizedFrame(length: 100, maximum: 64, callID: nil)), .payload(ByteBuffer(string: "next"))]),
            ],
            decoderFactory: { RPCFrameDecoder(maximumFrameBytes: 64, handshakeFrames: 0) }
        )
    }

    @Test func anOversizedFrameIsReportedOnceItsFirstBytesArriveAndItsRestIsDroppedAsItComes() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: 1024, handshakeFrames: 0)))
        let payload = self.envelopeBytes(id: 7, length: 3 * 1024 * 1024)
        var header = ByteBuffer()
        header.writeInteger(UInt32(payload.count), endianness: .big)
        header.writeBytes(payload.prefix(RPCOversizedFrame.callIDPrefixBytes))
        try channel.writeInbound(header)
        #expect(try channel.readInbound(as: RPCInboundFrame.self) == .tooLarge(RPCOversizedFrame(length: payload.count, maximum: 1024, callID: 7)))
        var offset = RPCOversizedFrame.callIDPrefixBytes
        while offset < payload.count {
            let end = min(payload.count, offset + 64 * 1024)
            try channel.writeInbound(ByteBuffer(bytes: payload[offset..<end]))
            #expect(try channel.readInbound(as: RPCInboundFrame.self) == nil)
            offset = end
        }
        try channel.writeInbound(self.frame("next"))
        #expect(try channel.readInbound(as: RPCInboundFrame.self) == .payload(ByteBuffer(string: "next")))
        #expect(try channel.finish().isClean)
    }

    @Test func anOversizedHandshakeFrameIsReportedAsSoonAsItsLengthArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: 1024, handshakeFrames: 1)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(512 * 1024 * 1024), endianness: .big)
        try channel.writeInbound(header)
        #expect(try channel.readInbound(as: RPCInboundFrame.self) == .tooLarge(RPCOversizedFrame(length: 512 * 1024 * 1024, maximum: 1024, callID: nil)))
        _ = try channel.finish()
    }

    @Test func framesAfterTheHandshakeFramesAreAttributedToTheirCalls() throws {
        var input = self.frame("hello")
        var oversized = self.frame(bytes: self.envelopeBytes(id: 9, length: 100))
        input.writeBuffer(&oversized)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(input, [.payload(ByteBuffer(string: "hello")), .tooLarge(RPCOversizedFrame(length: 100, maximum: 64, callID: 9))])],
            decoderFactory: { RPCFrameDecoder(maximumFrameBytes: 64, handshakeFrames: 1) }
        )
    }

    @Test func acceptsAFrameOfExactlyTheMaximum() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameBytes: 8, handshakeFrames: 0)))
        try channel.writeInbound(self.frame("12345678"))
        #expect(try channel.readInbound(as: RPCInboundFrame.self) == .payload(ByteBuffer(string: "12345678")))
        #expect(try channel.finish().isClean)
    }

    /// `NIOAny` holds a value of up to three words inline; a larger one would cost a heap allocation per frame.
    @Test func aDecodedFrameIsNoLargerThanTheByteBufferItCarries() {
        #expect(MemoryLayout<RPCInboundFrame>.size == MemoryLayout<ByteBuffer>.size)
        #expect(MemoryLayout<RPCInboundFrame>.size <= 3 * MemoryLayout<Int>.size)
    }

    @Test(arguments: [
        ([0x08, 0x01], UInt64(1)),
        ([0x08, 0xAC, 0x02], 300),
        ([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], UInt64.max),
    ] as [([UInt8], UInt64)])
    func theCallOfAnOversizedFrameIsItsLeadingID(bytes: [UInt8], id: UInt64) {
        #expect(RPCOversizedFrame.leadingCallID(ByteBuffer(bytes: bytes)) == id)
    }

    @Test(arguments: [[], [0x12, 0x01], [0x08], [0x08, 0x80], [0x08, 0x00]] as [[UInt8]])
    func aFrameWithoutAWholeLeadingIDNamesNoCall(bytes: [UInt8]) {
        #expect(RPCOversizedFrame.leadingCallID(ByteBuffer(bytes: bytes)) == nil)
    }
}
