import NIOCore
import NIOHTTP1

/// Writes HTTP/1.1 message heads and chunked framing as bytes (RFC 9112 §3, §4, §5, §7.1): what the edge
/// sends instead of passing message parts through SwiftNIO's encoders, so that a message's head and body
/// leave in one buffer, without two more handlers per connection. ``EdgeConnectionHandler`` writes the
/// client's answers with it, ``UpstreamResponseHandler`` the requests to an HTTP upstream. Fields are
/// written as given: every one comes from the strict parser or from values checked where they enter
/// (docs/security.md §6.17).
enum HTTPWireFormat {
    /// `100 Continue`, whole.
    static let continueHead: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
    /// The last chunk of a chunked body, with no trailer fields.
    static let lastChunk: StaticString = "0\r\n\r\n"

    /// Writes a whole response head: the status line, `fields` in order, then the edge's own fields when
    /// given (`Content-Length`, or `Transfer-Encoding: chunked` when `chunked`; `Date`; `Server`;
    /// `Connection`), and the empty line. The head's length is counted first and its bytes are copied into
    /// room reserved once: a head costs one write to the buffer, not four per field.
    static func writeResponseHead(
        version: HTTPVersion, status: Int, fields: [(name: String, value: String)], contentLength: Int?, chunked: Bool, date: String?,
        server: StaticString, connection: StaticString?, into buffer: inout ByteBuffer
    ) {
        let code = String(status)
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        let length = contentLength.map { String($0) }
        var size = 8 + 1 + code.utf8.count + 1 + reason.utf8.count + 2 + 2
        for (name, value) in fields { size += name.utf8.count + value.utf8.count + 4 }
        if let length { size += 16 + length.utf8.count + 2 } else if chunked { size += 28 }
        if let date { size += 6 + date.utf8.count + 2 }
        size += 8 + server.utf8CodeUnitCount + 2
        if let connection { size += 12 + connection.utf8CodeUnitCount + 2 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { room in
            var head = HeadBytes(room: room)
            head.putVersion(version)
            head.put(UInt8(ascii: " "))
            head.put(code)
            head.put(UInt8(ascii: " "))
            head.put(reason)
            head.put("\r\n")
            for (name, value) in fields { head.putField(name, value) }
            if let length {
                head.put("Content-Length: ")
                head.put(length)
                head.put("\r\n")
            } else if chunked {
                head.put("Transfer-Encoding: chunked\r\n")
            }
            if let date {
                head.put("Date: ")
                head.put(date)
                head.put("\r\n")
            }
            head.put("Server: ")
            head.put(server)
            head.put("\r\n")
            if let connection {
                head.put("Connection: ")
                head.put(connection)
                head.put("\r\n")
            }
            head.put("\r\n")
            return head.count
        }
    }

    /// Writes a whole request head: the request line, every field, and the empty line, counted first and
    /// copied into room reserved once.
    static func writeRequestHead(_ head: HTTPRequestHead, into buffer: inout ByteBuffer) {
        let method = head.method.rawValue
        var size = method.utf8.count + 1 + head.uri.utf8.count + 1 + 8 + 2 + 2
        for (name, value) in head.headers { size += name.utf8.count + value.utf8.count + 4 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { room in
            var bytes = HeadBytes(room: room)
            bytes.put(method)
            bytes.put(UInt8(ascii: " "))
            bytes.put(head.uri)
            bytes.put(UInt8(ascii: " "))
            bytes.putVersion(head.version)
            bytes.put("\r\n")
            for (name, value) in head.headers { bytes.putField(name, value) }
            bytes.put("\r\n")
            return bytes.count
        }
    }

    /// Copies a head's parts into room reserved for it; every copy is checked against the room's end.
    private struct HeadBytes {
        let room: UnsafeMutableRawBufferPointer
        private(set) var count = 0

        init(room: UnsafeMutableRawBufferPointer) {
            self.room = room
        }

        mutating func put(_ byte: UInt8) {
            precondition(self.count < self.room.count, "a head longer than counted")
            self.room[self.count] = byte
            self.count += 1
        }

        mutating func put(_ text: StaticString) {
            self.copy(UnsafeRawPointer(text.utf8Start), text.utf8CodeUnitCount)
        }

        mutating func put(_ text: String) {
            var text = text
            text.withUTF8 { bytes in
                if let base = bytes.baseAddress { self.copy(UnsafeRawPointer(base), bytes.count) }
            }
        }

        mutating func putField(_ name: String, _ value: String) {
            self.put(name)
            self.put(": ")
            self.put(value)
            self.put("\r\n")
        }

        mutating func putVersion(_ version: HTTPVersion) {
            if version == .http1_1 {
                self.put("HTTP/1.1")
            } else if version == .http1_0 {
                self.put("HTTP/1.0")
            } else {
                // Only 1.x reaches here (the decoder reads no other): one digit each.
                self.put("HTTP/")
                self.put(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: version.major % 10))
                self.put(UInt8(ascii: "."))
                self.put(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: version.minor % 10))
            }
        }

        private mutating func copy(_ source: UnsafeRawPointer, _ count: Int) {
            precondition(count <= self.room.count - self.count, "a head longer than counted")
            (self.room.baseAddress! + self.count).copyMemory(from: source, byteCount: count)
            self.count += count
        }
    }

    /// Writes the line that starts a chunk of `length` bytes (`length` in hexadecimal, then CRLF).
    static func writeChunkStart(length: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(length, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    /// Writes `part` of a body to `context`, in a chunk of its own when the body is chunked (an empty part is
    /// then not written: an empty chunk would end the body); not flushed.
    static func writeBodyPart(_ part: ByteBuffer, chunked: Bool, context: ChannelHandlerContext) {
        guard chunked else {
            context.write(NIOAny(part), promise: nil)
            return
        }
        guard part.readableBytes > 0 else { return }
        var start = context.channel.allocator.buffer(capacity: 18)
        Self.writeChunkStart(length: part.readableBytes, into: &start)
        context.write(NIOAny(start), promise: nil)
        context.write(NIOAny(part), promise: nil)
        var end = context.channel.allocator.buffer(capacity: 2)
        end.writeStaticString("\r\n")
        context.write(NIOAny(end), promise: nil)
    }
}
