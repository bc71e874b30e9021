import NIOCore

/// Writes a server connection's answer frames and flushes once per event-loop tick, so answers that
/// complete together leave in one `write(2)` instead of one each.
///
/// Answers are written to the channel directly (the async channel's inbound stream is unaffected).
/// Calls run on the connection's event loop, so writing is normally a plain function call; an answer
/// produced elsewhere hops to the loop first.
final class RPCAnswerWriter: Sendable {
    private let channel: any Channel
    private let flushScheduled: NIOLoopBoundBox<Bool>

    init(channel: any Channel) {
        self.channel = channel
        self.flushScheduled = NIOLoopBoundBox.makeBoxSendingValue(false, eventLoop: channel.eventLoop)
    }

    func write(_ frame: ByteBuffer) {
        if self.channel.eventLoop.inEventLoop {
            self.writeOnLoop(frame)
        } else {
            self.channel.eventLoop.execute { self.writeOnLoop(frame) }
        }
    }

    private func writeOnLoop(_ frame: ByteBuffer) {
        self.channel.write(frame, promise: nil)
        guard !self.flushScheduled.value else { return }
        self.flushScheduled.value = true
        self.channel.eventLoop.execute {
            self.flushScheduled.value = false
            self.channel.flush()
        }
    }
}
