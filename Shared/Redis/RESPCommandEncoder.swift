import CHiredis
import NIOCore

/// Encodes a command (argument list) as a RESP2 multi-bulk request with hiredis' `redisFormatCommandArgv`.
///
/// Binary safe: arguments are passed with explicit lengths, so they may hold any bytes, including NUL.
enum RESPCommandEncoder {
    /// Encodes UTF-8 string arguments.
    static func encode(_ arguments: [String]) throws(RedisError) -> ByteBuffer {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.utf8.count })
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            storage.append(contentsOf: argument.utf8)
            lengths.append(argument.utf8.count)
        }
        return try self.encode(storage: storage, lengths: lengths)
    }

    /// Encodes binary arguments.
    static func encode(_ arguments: [ByteBuffer]) throws(RedisError) -> ByteBuffer {
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.readableBytes })
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            storage.append(contentsOf: argument.readableBytesView)
            lengths.append(argument.readableBytes)
        }
        return try self.encode(storage: storage, lengths: lengths)
    }

    /// Encodes arguments laid out back to back in `storage`, argument `i` being `lengths[i]` bytes long.
    private static func encode(storage: [UInt8], lengths: [Int]) throws(RedisError) -> ByteBuffer {
        guard !lengths.isEmpty else {
            throw RedisError.invalidCommand("A Redis command needs at least its name; the argument list was empty")
        }
        guard let argumentCount = Int32(exactly: lengths.count) else {
            throw RedisError.invalidCommand("A Redis command can have at most \(Int32.max) arguments; got \(lengths.count)")
        }
        // A trailing byte keeps the storage non-empty, so its base address exists even when every argument is "".
        var storage = storage
        storage.append(0)
        let encoded: ByteBuffer? = storage.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else {
                return nil
            }
            var argv: [UnsafePointer<CChar>?] = []
            argv.reserveCapacity(lengths.count)
            var offset = 0
            for length in lengths {
                argv.append(UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            var target: UnsafeMutablePointer<CChar>?
            let count = argv.withUnsafeMutableBufferPointer { argvPointer in
                lengths.withUnsafeBufferPointer { lengthsPointer in
                    redisFormatCommandArgv(&target, argumentCount, argvPointer.baseAddress, lengthsPointer.baseAddress)
                }
            }
            defer { redisFreeCommand(target) }
            guard count >= 0, let target else {
                return nil
            }
            return ByteBuffer(bytes: UnsafeRawBufferPointer(start: target, count: Int(count)))
        }
        guard let encoded else {
            throw RedisError.invalidCommand("hiredis could not encode the command (out of memory)")
        }
        return encoded
    }
}
