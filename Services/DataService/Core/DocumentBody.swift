/// The rules for document bodies: the text of one JSON object within a size limit, that every JSON parser
/// reads the same way (``JSONObjectText``: no member name twice in an object, at most 64 levels deep).
enum DocumentBody {
    /// Checks a body.
    /// - Parameters:
    ///   - body: The JSON text.
    ///   - limit: The largest allowed size in UTF-8 bytes.
    /// - Throws: ``DocumentError/bodyTooLarge(size:limit:)`` or ``DocumentError/bodyNotObject(reason:)``.
    static func validate(_ body: String, limit: Int) throws(DocumentError) {
        let size = body.utf8.count
        guard size <= limit else {
            throw .bodyTooLarge(size: size, limit: limit)
        }
        // Cheap rejection of arrays and scalars before the full parse.
        guard let first = body.utf8.first(where: { !isJSONWhitespace($0) }) else {
            throw .bodyNotObject(reason: "but it is empty")
        }
        guard first == UInt8(ascii: "{") else {
            throw .bodyNotObject(reason: "but it starts with \(describe(first))")
        }
        do {
            try JSONObjectText.check(body)
        } catch {
            throw .bodyNotObject(reason: "but it is not valid JSON: \(error.reason)")
        }
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "["): "'[' (an array)"
        case UInt8(ascii: "\""): "'\"' (a string)"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): "a digit (a number)"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): "a letter (a boolean?)"
        case UInt8(ascii: "n"): "'n' (null?)"
        default: "byte 0x\(String(byte, radix: 16))"
        }
    }
}
