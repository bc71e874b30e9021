/// Writes JSON string literals (RFC 8259), shared by log lines and admin responses.
package enum JSONString {
    /// Appends `value` to `output` as a quoted JSON string.
    ///
    /// `"` and `\` are escaped, control characters (U+0000–U+001F, U+007F) become `\n`, `\t`… or `\u00XX`,
    /// U+2028 and U+2029 are escaped so the output is also safe to embed in JavaScript, and every
    /// other character is written as UTF-8.
    package static func append(_ value: String, to output: inout String) {
        output.append("\"")
        // Most values are printable ASCII with nothing to escape: appended whole.
        guard value.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            output.append(value)
            output.append("\"")
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"":
                output.append("\\\"")
            case "\\":
                output.append("\\\\")
            case "\n":
                output.append("\\n")
            case "\r":
                output.append("\\r")
            case "\t":
                output.append("\\t")
            case "\u{08}":
                output.append("\\b")
            case "\u{0C}":
                output.append("\\f")
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                output.append("\\u")
                let hex = String(scalar.value, radix: 16, uppercase: false)
                output.append(String(repeating: "0", count: 4 - hex.count))
                output.append(hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }

    /// `value` as a quoted JSON string.
    package static func quoted(_ value: String) -> String {
        var output = ""
        Self.append(value, to: &output)
        return output
    }
}
