/// A user's search text turned into an FTS5 query that cannot be a syntax error.
///
/// The text is split on whitespace and every piece becomes a quoted FTS5 string (a `"` inside
/// is doubled), so operators such as `OR`, `NEAR(`, `*`, `^`, `:` and parentheses are searched
/// for as plain text. The pieces are ANDed: a document matches when it contains every word.
struct FullTextQuery {
    /// The longest accepted search text, in UTF-8 bytes.
    static let maximumLength = 1024

    /// The FTS5 query expression to bind to `MATCH`.
    let expression: String

    /// Builds the query.
    /// - Parameter text: The user's search text.
    /// - Throws: ``DocumentError/invalidArgument(field:value:reason:)`` for field `q` when the
    ///   text is blank or too long.
    init(_ text: String) throws(DocumentError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw .invalidArgument(
                field: "q", value: String(text.prefix(64)) + "…",
                reason: "is \(text.utf8.count) bytes long; the maximum is \(Self.maximumLength)"
            )
        }
        // NUL would end the text early inside FTS5's tokenizer; treat it like whitespace.
        let terms = text.split { $0.isWhitespace || $0 == "\0" }
        guard !terms.isEmpty else {
            throw .invalidArgument(field: "q", value: text, reason: "must contain at least one word")
        }
        expression = terms.map { term in
            "\"" + term.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        }.joined(separator: " ")
    }
}
