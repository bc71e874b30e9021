import CHiredis
import NIOCore

/// An incremental RESP2 reply parser on top of hiredis' `redisReader`.
///
/// Feed it bytes as they arrive (in any split), then pull complete replies until it returns `nil`.
/// Not thread safe: one parser belongs to one channel and is used on its event loop only.
final class RESPReplyParser {
    /// One complete reply.
    enum Reply: Sendable, Equatable {
        /// A value reply.
        case value(RESPValue)
        /// An error reply (`-PREFIX message`), with the text after the `-`.
        case serverError(String)
    }

    private let reader: UnsafeMutablePointer<redisReader>

    /// Creates a parser; fails only if hiredis cannot allocate its reader.
    init() throws(RESPReplyParserError) {
        guard let reader = redisReaderCreate() else {
            throw RESPReplyParserError(reason: "hiredis could not allocate a reply reader (out of memory)")
        }
        self.reader = reader
    }

    deinit {
        redisReaderFree(self.reader)
    }

    /// Appends received bytes to the parser's buffer.
    func feed(_ bytes: ByteBuffer) throws(RESPReplyParserError) {
        let status = bytes.withUnsafeReadableBytes { raw -> Int32 in
            guard let base = raw.baseAddress, raw.count > 0 else {
                return REDIS_OK
            }
            return redisReaderFeed(self.reader, base.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard status == REDIS_OK else {
            throw RESPReplyParserError(reason: self.readerErrorText)
        }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    func nextReply() throws(RESPReplyParserError) -> Reply? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(self.reader, &raw) == REDIS_OK else {
            throw RESPReplyParserError(reason: self.readerErrorText)
        }
        guard let raw else {
            return nil
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        if reply.pointee.type == REDIS_REPLY_ERROR {
            return .serverError(Self.text(of: reply))
        }
        do {
            return .value(try Self.value(of: reply))
        } catch {
            switch error {
            case .nestedServerError(let message):
                return .serverError(message)
            case .malformed(let reason):
                throw RESPReplyParserError(reason: reason)
            }
        }
    }

    private var readerErrorText: String {
        withUnsafeBytes(of: self.reader.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown reader error" : String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func text(of reply: UnsafeMutablePointer<redisReply>) -> String {
        guard let str = reply.pointee.str else {
            return ""
        }
        let bytes = UnsafeRawBufferPointer(start: str, count: reply.pointee.len)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Why a parsed hiredis reply could not become a ``RESPValue``.
    private enum ConversionFailure: Error {
        /// An array held an error reply (for example a failed command inside `EXEC`). The stream is intact;
        /// the whole reply is delivered as that server error.
        case nestedServerError(String)
        /// The reply tree is not what hiredis documents.
        case malformed(String)
    }

    private static func value(of reply: UnsafeMutablePointer<redisReply>) throws(ConversionFailure) -> RESPValue {
        switch reply.pointee.type {
        case REDIS_REPLY_STATUS:
            return .simpleString(Self.text(of: reply))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.pointee.integer)
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_STRING:
            guard let str = reply.pointee.str else {
                return .bulkString(ByteBuffer())
            }
            return .bulkString(ByteBuffer(bytes: UnsafeRawBufferPointer(start: str, count: reply.pointee.len)))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(reply.pointee.elements)
            for index in 0..<reply.pointee.elements {
                guard let element = reply.pointee.element[index] else {
                    throw .malformed("array element \(index) is missing")
                }
                if element.pointee.type == REDIS_REPLY_ERROR {
                    throw .nestedServerError(Self.text(of: element))
                }
                elements.append(try Self.value(of: element))
            }
            return .array(elements)
        default:
            throw .malformed("unknown reply type \(reply.pointee.type)")
        }
    }
}

/// Why ``RESPReplyParser`` could not go on: the byte stream is not valid RESP (the connection must be closed).
struct RESPReplyParserError: Error, Equatable {
    /// What hiredis (or the conversion) reported.
    let reason: String
}
