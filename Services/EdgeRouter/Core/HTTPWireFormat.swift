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

    /// Writes a response's status line: `HTTP/<version> <code> <reason>`.
    static func writeStatusLine(version: HTTPVersion, status: Int, into buffer: inout ByteBuffer) {
        Self.writeVersion(version, into: &buffer)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(String(status))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(HTTPResponseStatus(statusCode: status).reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    /// Writes a whole request head: the request line, every field, and the empty line.
    static func writeRequestHead(_ head: HTTPRequestHead, into buffer: inout ByteBuffer) {
        buffer.writeString(head.method.rawValue)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(head.uri)
        buffer.writeInteger(UInt8(ascii: " "))
        Self.writeVersion(head.version, into: &buffer)
        buffer.writeStaticString("\r\n")
        for (name, value) in head.headers {
            Self.writeField(name, value, into: &buffer)
        }
        Self.endHead(into: &buffer)
    }

    private static func writeVersion(_ version: HTTPVersion, into buffer: inout ByteBuffer) {
        if version == .http1_1 {
            buffer.writeStaticString("HTTP/1.1")
        } else if version == .http1_0 {
            buffer.writeStaticString("HTTP/1.0")
        } else {
            buffer.writeString("HTTP/\(version.major).\(version.minor)")
        }
    }

    /// Writes one field line.
    @inline(__always)
    static func writeField(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    /// Writes the empty line that ends a head.
    static func endHead(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\r\n")
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
