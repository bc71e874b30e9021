import GatehouseNIOSupport

/// The request paths the edge refuses before routing, for what they could mean to an upstream:
///
/// - A dot segment (`.` or `..`, RFC 3986 §3.3). A route matches the path as sent, so `/api/public/..`
///   would match `/api/public/{id}` (with `auth: none`, say) while an upstream that resolves dot segments
///   answers `/api/` or `/admin` under that route's rules. Clients resolve dot segments before sending
///   (RFC 3986 §5.2.4), so only crafted requests have them. A segment counts after its percent-escapes are
///   decoded, and the decoded path is split at `/` and `\` too: `%2e%2e`, `..%2f` and `..%5c` are dot
///   segments for an upstream that decodes escapes before it resolves the path, as many do. An encoded `/`
///   elsewhere (`group%2Fproject`) is no dot segment and is forwarded as sent.
/// - An encoded NUL (`%00`), which cuts a path short in code that reads it as a C string (nginx refuses it
///   too).
enum RequestPathCheck {
    /// Why `path` is refused, for a `400` problem's detail, or `nil` when it is not. A path without `.`
    /// and `%` (almost every one) is passed after one scan of its bytes.
    static func refusal(of path: String) -> String? {
        var bytes = path
        switch bytes.withUTF8({ Self.finding(in: $0) }) {
        case .none: return nil
        case .dotSegment:
            return "the path \(path) has a '.' or '..' segment (also when percent-encoded); the edge does not resolve them: send the resolved path"
        case .encodedNUL: return "the path \(path) has an encoded NUL (%00)"
        }
    }

    private enum Finding {
        case none, dotSegment, encodedNUL
    }

    private static func finding(in bytes: UnsafeBufferPointer<UInt8>) -> Finding {
        guard bytes.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") }) else { return .none }
        // The length of the current decoded segment and how many of its bytes are dots.
        var length = 0
        var dots = 0
        var index = 0
        while index <= bytes.count {
            var byte = UInt8(ascii: "/")  // the path's end closes the last segment
            if index < bytes.count {
                byte = bytes[index]
                if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = HexDigit.value(of: bytes[index + 1]),
                    let low = HexDigit.value(of: bytes[index + 2])
                {
                    byte = high << 4 | low
                    if byte == 0 { return .encodedNUL }
                    index += 2
                }
            }
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                if length > 0, length <= 2, dots == length { return .dotSegment }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
            index += 1
        }
        return .none
    }
}
