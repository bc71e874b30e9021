import NIOCore

/// A reply from Redis (RESP2), decoded into a Swift value.
///
/// Error replies are not values: they are thrown as ``RedisError`` (see ``RedisError/Code/serverError``).
/// Bulk strings are kept as `ByteBuffer` so binary payloads survive unchanged; use ``string`` to read them as UTF-8.
public enum RESPValue: Sendable, Hashable {
    /// A simple string reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An integer reply, for example the result of `INCR`.
    case integer(Int64)
    /// A bulk string reply; binary safe.
    case bulkString(ByteBuffer)
    /// A null bulk string or null array, for example `GET` on a missing key.
    case null
    /// An array reply, possibly nested.
    case array([RESPValue])

    /// The integer value of an integer reply, or of a bulk or simple string holding a decimal integer; otherwise `nil`.
    public var int: Int? {
        switch self {
        case .integer(let value):
            return Int(exactly: value)
        case .simpleString(let text):
            return Int(text)
        case .bulkString(let bytes):
            return Int(String(buffer: bytes))
        case .null, .array:
            return nil
        }
    }

    /// The text of a simple string, or a bulk string decoded as UTF-8; otherwise `nil`.
    public var string: String? {
        switch self {
        case .simpleString(let text):
            return text
        case .bulkString(let bytes):
            return String(buffer: bytes)
        case .integer, .null, .array:
            return nil
        }
    }

    /// The raw bytes of a bulk string, or the UTF-8 bytes of a simple string; otherwise `nil`.
    public var bytes: ByteBuffer? {
        switch self {
        case .bulkString(let bytes):
            return bytes
        case .simpleString(let text):
            return ByteBuffer(string: text)
        case .integer, .null, .array:
            return nil
        }
    }

    /// The elements of an array reply; otherwise `nil`.
    public var array: [RESPValue]? {
        if case .array(let elements) = self {
            return elements
        }
        return nil
    }

    /// Whether this is a null reply.
    public var isNull: Bool {
        if case .null = self {
            return true
        }
        return false
    }
}
