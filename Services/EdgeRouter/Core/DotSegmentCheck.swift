import GatehouseNIOSupport
/// Finds dot segments (`.` and `..`, RFC 3986 §3.3) in a request's path, which the edge refuses before
/// routing: a route matches the path as sent, so `/api/public/..` would match `/api/public/{id}` (with
/// `auth: none`, say) while an upstream that resolves dot segments answers `/api/` or `/admin` under that
/// route's rules. Clients resolve dot segments before sending (RFC 3986 §5.2.4), so only crafted requests
/// have them.
///
/// A segment counts after its percent-escapes are decoded, and the decoded path is split at `/` and `\`
/// too: `%2e%2e`, `..%2f` and `..%5c` are dot segments for an upstream that decodes escapes before it
/// resolves the path, as many do. An encoded `/` elsewhere (`group%2Fproject`) is no dot segment and is
/// forwarded as sent.
enum DotSegmentCheck {
    /// Whether `path` has a dot segment, as described above. A path without `.` and `%` (almost every one)
    /// is passed after one scan of its bytes.
    static func hasDotSegment(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { Self.hasDotSegment(bytes: $0) }
    }

    private static func hasDotSegment(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") }) else { return false }
        // The length of the current decoded segment and how many of its bytes are dots.
        var length = 0
        var dots = 0
        var index = 0
        while index <= bytes.count {
            var byte = UInt8(ascii: "/")  // the path's end closes the last segment
            if index < bytes.count {
                byte = bytes[index]
                if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = HexDigit.value(of: bytes[index + 1]), let low = HexDigit.value(of: bytes[index + 2]) {
                    byte = high << 4 | low
                    index += 2
                }
            }
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                if length > 0, length <= 2, dots == length { return true }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
            index += 1
        }
        return false
    }
}
