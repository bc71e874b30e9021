/// ASCII text compared without regard to the case of its letters, over bytes in place: field names and
/// authentication schemes are case-insensitive (RFC 9110 §5.1, §11.1). Only `A`–`Z` fold; every other byte
/// must match exactly.
enum ASCIICaseInsensitive {
    /// Whether `bytes` start with `prefix`, letters matched in either case.
    @inline(__always)
    static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        for index in 0..<prefix.count where Self.lowered(bytes[index]) != Self.lowered(prefix[index]) {
            return false
        }
        return true
    }

    /// Whether `bytes` start with `prefix`, letters matched in either case.
    @inline(__always)
    static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ prefix: StaticString) -> Bool {
        Self.hasPrefix(bytes, UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
    }

    /// An ASCII letter in lower case; any other byte as it is.
    @inline(__always)
    static func lowered(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}
