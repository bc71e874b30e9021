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
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        var size = 8 + 1 + ASCIIBytes.maximumDecimalLength + 1 + reason.utf8.count + 2 + 2
        for index in fields.indices { size += fields[index].name.utf8.count + fields[index].value.utf8.count + 4 }
        if contentLength != nil { size += 16 + ASCIIBytes.maximumDecimalLength + 2 } else if chunked { size += 28 }
        if let date { size += 6 + date.utf8.count + 2 }
        size += 8 + server.utf8CodeUnitCount + 2
        if let connection { size += 12 + connection.utf8CodeUnitCount + 2 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { room in
            var head = ASCIIBytes(room: room)
            head.putVersion(version)
            head.put(UInt8(ascii: " "))
            head.put(decimal: status)
            head.put(UInt8(ascii: " "))
            head.put(reason)
            head.put("\r\n")
            for index in fields.indices { head.putField(fields[index].name, fields[index].value) }
            if let contentLength {
                head.put("Content-Length: ")
                head.put(decimal: contentLength)
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
            var bytes = ASCIIBytes(room: room)
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

extension ASCIIBytes {
    /// Writes a header field's line.
    fileprivate mutating func putField(_ name: String, _ value: String) {
        self.put(name)
        self.put(": ")
        self.put(value)
        self.put("\r\n")
    }

    /// Writes an HTTP/1.x version.
    fileprivate mutating func putVersion(_ version: HTTPVersion) {
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
}
