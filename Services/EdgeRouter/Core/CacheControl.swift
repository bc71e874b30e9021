/// The directives of a `Cache-Control` field (RFC 9111 §5.2) that a shared cache acts on.
///
/// Parsing is tolerant, as RFC 9111 §4.2.1 asks: directive names are case-insensitive, unknown directives
/// are ignored, a directive given twice counts once (the first), and a qualified `private="…"` or
/// `no-cache="…"` is read as its unqualified form (the stricter reading, which RFC 9111 §5.2.2.4 and
/// §5.2.2.7 allow). A `max-age` whose value is not a non-negative integer makes the answer stale
/// (`max-age=0`), the safe reading of an invalid freshness lifetime.
struct CacheControl: Sendable, Equatable {
    /// `no-store`: not stored at all.
    var noStore = false
    /// `no-cache`: stored, but never served without validating it with the origin first.
    var noCache = false
    /// `private` (qualified or not): for one user only, never stored by a shared cache.
    var isPrivate = false
    /// `public`: storable by a shared cache, even for a request with `Authorization`.
    var isPublic = false
    /// `must-revalidate` or `proxy-revalidate`: never served stale.
    var mustRevalidate = false
    /// `max-age`.
    var maxAge: Duration?
    /// `s-maxage`: a shared cache's own `max-age`.
    var sharedMaxAge: Duration?
    /// `stale-while-revalidate` (RFC 5861 §3).
    var staleWhileRevalidate: Duration?
    /// `stale-if-error` (RFC 5861 §4).
    var staleIfError: Duration?

    /// The largest delta-seconds value, as RFC 9111 §1.2.2 caps it (2^31 seconds).
    static let largestDelta = Duration.seconds(2_147_483_648)

    /// No directives.
    init() {}

    /// Parses one or more `Cache-Control` field values (several lines joined by commas).
    init(_ fieldValue: String?) {
        guard let fieldValue else { return }
        var seen: Set<String> = []
        for directive in Self.directives(fieldValue) {
            guard seen.insert(directive.name).inserted else { continue }
            switch directive.name {
            case "no-store": self.noStore = true
            case "no-cache": self.noCache = true
            case "private": self.isPrivate = true
            case "public": self.isPublic = true
            case "must-revalidate", "proxy-revalidate": self.mustRevalidate = true
            case "max-age": self.maxAge = Self.delta(directive.argument) ?? .zero
            case "s-maxage": self.sharedMaxAge = Self.delta(directive.argument) ?? .zero
            case "stale-while-revalidate": self.staleWhileRevalidate = Self.delta(directive.argument)
            case "stale-if-error": self.staleIfError = Self.delta(directive.argument)
            default: continue
            }
        }
    }

    /// The directives of a field value: lower-case names and their arguments without quotes.
    private static func directives(_ value: String) -> [(name: String, argument: String?)] {
        var result: [(name: String, argument: String?)] = []
        var rest = Substring(value)
        while !rest.isEmpty {
            // A quoted argument may contain commas: split at the first comma outside quotes.
            var inQuotes = false
            var end = rest.endIndex
            var index = rest.startIndex
            while index < rest.endIndex {
                let character = rest[index]
                if character == "\"" { inQuotes.toggle() } else if character == ",", !inQuotes {
                    end = index
                    break
                }
                index = rest.index(after: index)
            }
            let item = rest[rest.startIndex..<end]
            rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingASCIISpaces().lowercased()
            guard !name.isEmpty else { continue }
            var argument = parts.count == 2 ? parts[1].trimmingASCIISpaces() : nil
            if let quoted = argument, quoted.count >= 2, quoted.hasPrefix("\""), quoted.hasSuffix("\"") {
                argument = String(quoted.dropFirst().dropLast())
            }
            result.append((name, argument))
        }
        return result
    }

    /// A delta-seconds argument (RFC 9111 §1.2.2): digits only, capped at 2^31 seconds.
    private static func delta(_ argument: String?) -> Duration? {
        guard let argument, !argument.isEmpty, argument.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        guard argument.count <= 10, let seconds = Int64(argument) else { return self.largestDelta }
        return min(.seconds(seconds), self.largestDelta)
    }
}
