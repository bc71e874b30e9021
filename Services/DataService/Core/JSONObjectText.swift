/// A strict check that a text is one JSON object (RFC 8259) that every JSON parser reads the same way
/// (I-JSON, RFC 7493): no member name twice in one object (parsers disagree on which one wins, so a
/// duplicate could mean one thing to a reader and another to the writer's checks), no lone surrogate
/// escape, and at most ``maximumDepth`` nested objects and arrays (a bound on the work of every later
/// reader). Only the syntax is read; nothing is built but the member names of the objects being read.
struct JSONObjectText {
    /// The deepest nesting of objects and arrays accepted.
    static let maximumDepth = 64

    /// Why a text is not accepted, with the byte offset where it was seen.
    struct Problem: Error, Equatable {
        /// What is wrong, for the error message.
        let reason: String
    }

    private let bytes: [UInt8]
    private var position = 0

    private init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    /// Checks that `text` is exactly one JSON object, surrounded by whitespace at most.
    /// - Throws: ``Problem`` saying what is wrong and where.
    static func check(_ text: String) throws(Problem) {
        var reader = JSONObjectText(text)
        reader.skipWhitespace()
        guard reader.peek() == UInt8(ascii: "{") else { throw reader.problem("it is not an object") }
        try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.position == reader.bytes.count else { throw reader.problem("something follows the object") }
    }

    private func peek() -> UInt8? {
        self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    private func problem(_ reason: String) -> Problem {
        Problem(reason: "\(reason) (at byte \(self.position))")
    }

    private mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.position += 1
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(Problem) {
        guard self.peek() == byte else { throw self.problem("expected \(what)") }
        self.position += 1
    }

    private mutating func value(depth: Int) throws(Problem) {
        self.skipWhitespace()
        guard let byte = self.peek() else { throw self.problem("the text ends where a value was expected") }
        switch byte {
        case UInt8(ascii: "{"): try self.object(depth: depth + 1)
        case UInt8(ascii: "["): try self.array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try self.string()
        case UInt8(ascii: "t"): try self.literal("true")
        case UInt8(ascii: "f"): try self.literal("false")
        case UInt8(ascii: "n"): try self.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try self.number()
        default: throw self.problem("expected a value")
        }
    }

    private mutating func object(depth: Int) throws(Problem) {
        guard depth <= Self.maximumDepth else { throw self.problem("objects and arrays are nested more than \(Self.maximumDepth) deep") }
        self.position += 1  // {
        var names: Set<String> = []
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "}") {
            self.position += 1
            return
        }
        while true {
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: "\"") else { throw self.problem("expected a member name in double quotes") }
            let start = self.position
            let name = try self.string()
            guard names.insert(name).inserted else {
                self.position = start
                throw self.problem("the member name \"\(name)\" appears twice in one object")
            }
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"), "':' after a member name")
            try self.value(depth: depth)
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: ",") {
                self.position += 1
                continue
            }
            try self.expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return
        }
    }

    private mutating func array(depth: Int) throws(Problem) {
        guard depth <= Self.maximumDepth else { throw self.problem("objects and arrays are nested more than \(Self.maximumDepth) deep") }
        self.position += 1  // [
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "]") {
            self.position += 1
            return
        }
        while true {
            try self.value(depth: depth)
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: ",") {
                self.position += 1
                continue
            }
            try self.expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return
        }
    }

    /// Reads a string and returns its value (escapes decoded), so member names compare as a reader sees them.
    private mutating func string() throws(Problem) -> String {
        self.position += 1  // "
        var scalars = String.UnicodeScalarView()
        var runStart = self.position
        func flushRun(_ reader: JSONObjectText, into scalars: inout String.UnicodeScalarView, upTo end: Int) {
            if end > runStart {
                scalars.append(contentsOf: String(decoding: reader.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
            }
        }
        while let byte = self.peek() {
            switch byte {
            case UInt8(ascii: "\""):
                flushRun(self, into: &scalars, upTo: self.position)
                self.position += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flushRun(self, into: &scalars, upTo: self.position)
                self.position += 1
                scalars.append(try self.escape())
                runStart = self.position
            case 0x00..<0x20:
                throw self.problem("a control character must be escaped in a string")
            default:
                self.position += 1
            }
        }
        throw self.problem("a string is not closed")
    }

    private mutating func escape() throws(Problem) -> Unicode.Scalar {
        guard let byte = self.peek() else { throw self.problem("the text ends inside an escape") }
        self.position += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try self.hexUnit()
            if (0xD800...0xDBFF).contains(unit) {
                guard self.peek() == UInt8(ascii: "\\"), self.position + 1 < self.bytes.count, self.bytes[self.position + 1] == UInt8(ascii: "u") else {
                    throw self.problem("a \\u escape is a lone high surrogate")
                }
                self.position += 2
                let low = try self.hexUnit()
                guard (0xDC00...0xDFFF).contains(low) else { throw self.problem("a \\u escape is a lone high surrogate") }
                return Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(UInt32(unit)) else { throw self.problem("a \\u escape is a lone low surrogate") }
            return scalar
        default:
            self.position -= 1
            throw self.problem("an invalid escape")
        }
    }

    private mutating func hexUnit() throws(Problem) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = self.peek() else { throw self.problem("the text ends inside a \\u escape") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.problem("a \\u escape needs four hex digits")
            }
            unit = unit << 4 | UInt16(digit)
            self.position += 1
        }
        return unit
    }

    private mutating func literal(_ word: String) throws(Problem) {
        let text = word.utf8
        guard self.position + text.count <= self.bytes.count, self.bytes[self.position..<self.position + text.count].elementsEqual(text) else {
            throw self.problem("expected a value")
        }
        self.position += text.count
    }

    private mutating func number() throws(Problem) {
        if self.peek() == UInt8(ascii: "-") { self.position += 1 }
        guard let first = self.peek(), Self.isDigit(first) else { throw self.problem("a number needs a digit") }
        self.position += 1
        if first != UInt8(ascii: "0") { self.skipDigits() }
        if self.peek() == UInt8(ascii: ".") {
            self.position += 1
            guard let digit = self.peek(), Self.isDigit(digit) else { throw self.problem("a fraction needs a digit") }
            self.skipDigits()
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.position += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.position += 1 }
            guard let digit = self.peek(), Self.isDigit(digit) else { throw self.problem("an exponent needs a digit") }
            self.skipDigits()
        }
    }

    private mutating func skipDigits() {
        while let byte = self.peek(), Self.isDigit(byte) { self.position += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
