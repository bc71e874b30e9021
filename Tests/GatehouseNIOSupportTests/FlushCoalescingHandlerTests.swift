import GatehouseNIOSupport
import NIOCore
import NIOEmbedded
import Testing

@Suite struct FlushCoalescingHandlerTests {
    @Test func flushesOfOneTickLeaveTogetherAtTheEndOfTheTick() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler(), loop: loop)
        for text in ["a", "b", "c"] {
            channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the tick ends")
        loop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "a"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "b"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "c"))
        _ = try channel.finish()
    }

    @Test func aCloseFlushesWhatWasWrittenBeforeIt() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler(), loop: loop)
        channel.writeAndFlush(ByteBuffer(string: "last answer"), promise: nil)
        channel.close(promise: nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "last answer"))
    }
}
