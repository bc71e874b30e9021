/// A request's `X-Request-ID`: the client's own when it is short printable ASCII, else a new random UUID
/// (version 4, lower-case).
enum RequestID {
    /// The request's `X-Request-ID` (its first, `given`) when it has at most 128 printable ASCII characters,
    /// else ``random(using:)``.
    static func of(_ given: String?, using generator: inout some RandomNumberGenerator) -> String {
        if let given, given.utf8.count <= 128, given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return self.random(using: &generator)
    }

    /// A new random UUID from `generator` (the edge's is ``BufferedSystemRandomNumberGenerator``), formatted
    /// without Foundation: `UUID()` opened `/dev/urandom` for each one, about 3% of the edge's CPU per request.
    static func random(using generator: inout some RandomNumberGenerator) -> String {
        // The version (4) and variant (binary 10) bits of RFC 9562 §5.4.
        let high = (generator.next() as UInt64) & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = (generator.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            // 8-4-4 hexadecimal digits from `high`, then 4-12 from `low`, most significant first.
            var position = 0
            func put(_ value: UInt64, dashBefore first: Int, _ second: Int) {
                for nibble in 0..<16 {
                    if nibble == first || nibble == second {
                        buffer[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    let digit = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * nibble) & 0xF)
                    buffer[position] = digit < 10 ? UInt8(ascii: "0") &+ digit : UInt8(ascii: "a") &+ digit &- 10
                    position += 1
                }
            }
            put(high, dashBefore: 8, 12)
            put(low, dashBefore: 0, 4)
            return position
        }
    }
}
