/// The rules for collection names and document ids.
///
/// A name is 1 to ``maximumLength`` characters, each an ASCII letter, digit, `_`, `.` or `-`
/// (the pattern `[A-Za-z0-9_.-]{1,128}`), so names are safe in URLs, Redis keys and log lines.
package enum DocumentName {
    /// The longest allowed name, in characters: 128.
    package static let maximumLength = 128

    /// Checks a name against the rules.
    /// - Parameters:
    ///   - value: The name to check.
    ///   - field: The field it came from, for example `"collection"` or `"id"`, named in the error.
    /// - Throws: ``DocumentError/invalidName(field:value:reason:)`` naming the field and the rule broken.
    package static func validate(_ value: String, field: String) throws(DocumentError) {
        let bytes = value.utf8
        guard !bytes.isEmpty else {
            throw .invalidName(field: field, value: value, reason: "must not be empty")
        }
        guard bytes.count <= maximumLength else {
            throw .invalidName(
                field: field, value: value,
                reason: "is \(bytes.count) characters long; the maximum is \(maximumLength)"
            )
        }
        if let bad = bytes.first(where: { !isAllowed($0) }) {
            let shown = bad < 0x80 ? "'\(Character(Unicode.Scalar(bad)))'" : "a non-ASCII character"
            throw .invalidName(
                field: field, value: value,
                reason: "contains \(shown); only A-Z, a-z, 0-9, '_', '.' and '-' are allowed"
            )
        }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
