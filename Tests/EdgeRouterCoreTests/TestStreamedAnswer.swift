import NIOCore
import NIOHTTP1
import Synchronization

/// A long answer of ``TestUpstreamServer``'s `/stream?bytes=N[&chunked=1][&hold=K][&die=K][&after=M]`: `N` bytes of
/// ``bytes(at:count:)``, with `Content-Length` or chunked, written in 64 KiB parts only while the connection is
/// writable, so what it could write is what its client (the edge) read. With `hold`, it stops after `K`
/// bytes until ``Controls/release()``; with `die`, it closes the connection after `K` bytes; with `after`, it
/// begins `M` ms after the request.
struct TestStreamedAnswer {
    /// What the answers have written, the release of held ones, and what `/upload` requests received.
    final class Controls: Sendable {
        private let state = Mutex((written: 0, released: false, received: 0))

        /// Bytes of `/upload` bodies received so far, all requests together.
        var received: Int { self.state.withLock { $0.received } }
        fileprivate func receivedMore(_ count: Int) { self.state.withLock { $0.received += count } }

        /// Bytes of `/stream` bodies the connections took (written to their sockets), all answers together.
        var written: Int { self.state.withLock { $0.written } }
        /// Lets held answers go on.
        func release() { self.state.withLock { $0.released = true } }

        fileprivate var isReleased: Bool { self.state.withLock { $0.released } }
        fileprivate func wrote(_ count: Int) { self.state.withLock { $0.written += count } }
    }

    /// The period of the body's bytes: a prime, so it never lines up with the parts' or the reads' sizes.
    static let period = 65537
    /// Two periods of the body's bytes, to slice from.
    static let pattern: ByteBuffer = {
        var buffer = ByteBuffer()
        for offset in 0..<(2 * Self.period) { buffer.writeInteger(UInt8(truncatingIfNeeded: (offset % Self.period) &* 7 &+ offset % Self.period / 256)) }
        return buffer
    }()

    /// The body's `count` bytes from `offset`; `count` at most ``period``.
    static func bytes(at offset: Int, count: Int) -> ByteBuffer {
        Self.pattern.getSlice(at: offset % Self.period, length: count)!
    }

    private static let partBytes = 64 * 1024

    let length: Int
    let chunked: Bool
    let hold: Int?
    let die: Int?
    let after: Int?
    let controls: Controls

    init(query: String, controls: Controls) {
        var values: [String: Int] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = Int(parts[1]) }
        }
        self.length = values["bytes"] ?? 0
        self.chunked = values["chunked"] == 1
        self.hold = values["hold"]
        self.die = values["die"]
        self.after = values["after"]
        self.controls = controls
    }

    func start(context: ChannelHandlerContext) {
        let channel = context.channel
        guard let after = self.after else {
            self.begin(channel: channel)
            return
        }
        channel.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(after))) { self.begin(channel: channel) }
    }

    private func begin(channel: any Channel) {
        guard channel.isActive else { return }
        var headers = HTTPHeaders([("Content-Type", "application/octet-stream")])
        if !self.chunked { headers.add(name: "Content-Length", value: "\(self.length)") }
        channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)), promise: nil)
        self.pump(from: 0, channel: channel)
    }

    /// Writes parts from `offset` while the connection is writable; else looks again in 5 ms.
    private func pump(from offset: Int, channel: any Channel) {
        var offset = offset
        while offset < self.length, channel.isWritable {
            if let die = self.die, offset >= die {
                channel.close(promise: nil)
                return
            }
            if let hold = self.hold, offset >= hold, !self.controls.isReleased { break }
            let count = min(Self.partBytes, self.length - offset)
            let part = Self.bytes(at: offset, count: count)
            let controls = self.controls
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(part))).whenSuccess { controls.wrote(count) }
            offset += count
        }
        guard offset < self.length else {
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            return
        }
        guard channel.isActive else { return }
        let next = offset
        channel.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(5)) { self.pump(from: next, channel: channel) }
    }

    /// A request body to `/upload[?die=K|?stall=1]`, checked against ``bytes(at:count:)`` as it arrives; with
    /// `die`, the connection is closed once `K` bytes arrived; with `stall`, the connection is not read after
    /// the head.
    struct Upload {
        private(set) var received = 0
        private(set) var intact = true
        let die: Int?
        let stalls: Bool

        init(query: String) {
            self.die = query.hasPrefix("die=") ? Int(query.dropFirst(4)) : nil
            self.stalls = query == "stall=1"
        }

        /// Takes a part; `false` when the connection is to be closed.
        mutating func receive(_ part: ByteBuffer, controls: Controls) -> Bool {
            var part = part
            while part.readableBytes > 0 {
                let count = min(part.readableBytes, TestStreamedAnswer.period)
                self.intact = self.intact && part.readSlice(length: count)! == TestStreamedAnswer.bytes(at: self.received, count: count)
                self.received += count
                controls.receivedMore(count)
            }
            if let die = self.die, self.received >= die { return false }
            return true
        }
    }
}
