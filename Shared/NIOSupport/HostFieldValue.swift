/// The value of a `Host` header field (RFC 9110 §7.2, RFC 9112 §3.2), checked as the HTTP servers must
/// before they answer: a request with an invalid one is refused with `400`.
public enum HostFieldValue {
    /// Whether a `Host` value is `uri-host [":" port]` (RFC 9110 §7.2): a registered name, an IPv4 address
    /// or a bracketed IPv6 literal, then an optional port of digits. An empty value is allowed (§3.2 of RFC 9112
    /// allows it when the target has no authority).
    public static func isValid(_ value: String) -> Bool {
        var value = value
        // Read through a buffer pointer: every request's `Host` is checked.
        return value.withUTF8 { Self.isValid(bytes: $0) }
    }

    private static func isValid(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        if count > 0, bytes[0] == UInt8(ascii: "[") {
            index = 1
            while index < count, bytes[index] != UInt8(ascii: "]") {
                let byte = bytes[index]
                guard Self.isHexDigit(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") else { return false }
                index += 1
            }
            // A closing bracket, after a literal that is not empty.
            guard index < count, index > 1 else { return false }
            index += 1
        } else {
            // reg-name: unreserved, percent-encoded and sub-delims characters (RFC 3986 §3.2.2).
            while index < count, bytes[index] != UInt8(ascii: ":") {
                guard Self.isRegisteredNameByte(bytes[index]) else { return false }
                index += 1
            }
        }
        guard index < count else { return true }
        guard bytes[index] == UInt8(ascii: ":"), count - index - 1 <= 5 else { return false }
        for position in (index + 1)..<count where bytes[position] < UInt8(ascii: "0") || bytes[position] > UInt8(ascii: "9") {
            return false
        }
        return true
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    private static func isRegisteredNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"): true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default: false
        }
    }

}
