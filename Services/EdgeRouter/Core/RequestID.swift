/// A request's `X-Request-ID`: the client's own when it is short printable ASCII, else a new random UUID
/// (version 4, lower-case).
enum RequestID {
    private static let hexDigits = Array("0123456789abcdef".utf8)

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
            var position = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[position] = Self.hexDigits[Int(value >> UInt64(shift) & 0xF)]
                    position += 1
                }
            }
            func dash() {
                buffer[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high >> 32, nibbles: 8)
            dash()
            put(high >> 16, nibbles: 4)
            dash()
            put(high, nibbles: 4)
            dash()
            put(low >> 48, nibbles: 4)
            dash()
            put(low, nibbles: 12)
            return position
        }
    }
}
