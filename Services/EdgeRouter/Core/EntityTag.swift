/// An entity tag (RFC 9110 §8.8.3): an opaque quoted string, weak when prefixed by `W/`. Gatehouse's own
/// tags are strong: a document's version in quotes (`"7"`).
struct EntityTag: Equatable {
    /// The text between the quotes, as received.
    var opaque: Substring
    /// Whether the tag was sent as `W/"…"`.
    var isWeak: Bool

    /// The strong tag of a document version, as the edge sends it in `ETag`.
    init(version: Int64) {
        self.opaque = Substring(String(version))
        self.isWeak = false
    }

    /// The tag of an `ETag` field value; `nil` unless the value is exactly one tag.
    init?(field: String) {
        guard case .tags(let tags)? = try? EntityTagCondition(parsing: field), tags.count == 1 else { return nil }
        self = tags[0]
    }

    init(opaque: Substring, isWeak: Bool) {
        self.opaque = opaque
        self.isWeak = isWeak
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same opaque text. `If-Match` uses it.
    func strongMatches(_ other: EntityTag) -> Bool {
        !self.isWeak && !other.isWeak && self.opaque == other.opaque
    }

    /// Weak comparison: the same opaque text, either or both weak. `If-None-Match` uses it.
    func weakMatches(_ other: EntityTag) -> Bool {
        self.opaque == other.opaque
    }
}

/// The value of an `If-Match` or `If-None-Match` field (RFC 9110 §13.1.1, §13.1.2):
/// `"*" / #entity-tag`, a comma-separated list in which empty elements and optional whitespace are allowed.
enum EntityTagCondition: Equatable {
    /// `*`: any current representation.
    case any
    /// The listed tags, in order.
    case tags([EntityTag])

    /// Why a field value is not `"*" / #entity-tag`.
    struct MalformedValue: Error, Equatable {
        /// What is wrong, for the `400` answer's detail.
        let reason: String
    }

    /// Parses a field value (several field lines joined with `, `).
    /// - Throws: ``MalformedValue`` when the value breaks the grammar: a tag without its closing quote, a
    ///   character not allowed in a tag, text between tags that is not a comma, `*` together with tags.
    init(parsing value: String) throws(MalformedValue) {
        let bytes = Substring(value).utf8
        var index = bytes.startIndex
        func skipWhitespace() {
            while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index = bytes.index(after: index) }
        }
        skipWhitespace()
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "*") {
            index = bytes.index(after: index)
            skipWhitespace()
            guard index == bytes.endIndex else { throw MalformedValue(reason: "'*' must be the whole value") }
            self = .any
            return
        }
        var tags: [EntityTag] = []
        while true {
            skipWhitespace()
            guard index < bytes.endIndex else { break }
            if bytes[index] == UInt8(ascii: ",") {  // an empty list element
                index = bytes.index(after: index)
                continue
            }
            var isWeak = false
            if bytes[index] == UInt8(ascii: "W") {
                let slash = bytes.index(after: index)
                guard slash < bytes.endIndex, bytes[slash] == UInt8(ascii: "/") else { throw MalformedValue(reason: "an entity tag is \"…\" or W/\"…\"") }
                isWeak = true
                index = bytes.index(after: slash)
            }
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else {
                throw MalformedValue(reason: "an entity tag is \"…\" or W/\"…\"")
            }
            let start = bytes.index(after: index)
            var end = start
            // etagc = %x21 / %x23-7E / obs-text: any visible character but '"', no whitespace.
            while end < bytes.endIndex, bytes[end] != UInt8(ascii: "\"") {
                guard bytes[end] == 0x21 || bytes[end] >= 0x23 && bytes[end] != 0x7F else {
                    throw MalformedValue(reason: "an entity tag holds only visible characters other than '\"'")
                }
                end = bytes.index(after: end)
            }
            guard end < bytes.endIndex else { throw MalformedValue(reason: "an entity tag lacks its closing '\"'") }
            tags.append(EntityTag(opaque: Substring(bytes[start..<end]), isWeak: isWeak))
            index = bytes.index(after: end)
            skipWhitespace()
            guard index == bytes.endIndex || bytes[index] == UInt8(ascii: ",") else {
                throw MalformedValue(reason: "entity tags are separated by commas")
            }
        }
        self = .tags(tags)
    }
}
