/// The cache key of a request (docs/architecture.md, "Cache coherence"): the method, the normalised path,
/// the query parameters sorted, and for user-scoped routes the caller's subject, so personal data is never
/// cached under a key another caller can produce.
package enum CacheKey {
    /// Builds a key.
    /// - Parameters:
    ///   - method: `GET` (`HEAD` shares its entries).
    ///   - path: The path; empty segments (`//`) are dropped.
    ///   - query: The query string without `?`, if any.
    ///   - subject: The caller's `sub` for a user-scoped route, `nil` for a public one.
    package static func make(method: String, path: String, query: String?, subject: String?) -> String {
        let pairs = query.map { $0.split(separator: "&").filter { !$0.isEmpty }.sorted() } ?? []
        let query = pairs.isEmpty ? nil : pairs.joined(separator: "&")
        let path = Self.hasNoEmptySegments(path) ? path : Self.withoutEmptySegments(path)
        let method = method == "HEAD" ? "GET" : method
        // Written in one allocation: this runs for every cached read.
        let room = method.utf8.count + 1 + path.utf8.count + (query.map { $0.utf8.count + 1 } ?? 0) + (subject.map { $0.utf8.count + 5 } ?? 0)
        return String(unsafeUninitializedCapacity: room) { buffer in
            var bytes = ASCIIBytes(room: UnsafeMutableRawBufferPointer(buffer))
            bytes.put(method)
            bytes.put(UInt8(ascii: " "))
            bytes.put(path)
            if let query {
                bytes.put(UInt8(ascii: "?"))
                bytes.put(query)
            }
            if let subject {
                // A subject cannot contain a space (issuer names are A-Z a-z 0-9 _ . @ -), so this cannot collide with a path.
                bytes.put(" sub=")
                bytes.put(subject)
            }
            return bytes.count
        }
    }

    /// `path` with its empty segments dropped, one `/` before each segment (`/` when none is left).
    private static func withoutEmptySegments(_ path: String) -> String {
        var normalised = ""
        normalised.reserveCapacity(path.utf8.count + 1)
        var segments = PathSegments(path.utf8.first == UInt8(ascii: "/") ? path : "/" + path)
        while let segment = segments.next() {
            guard !segment.isEmpty else { continue }
            normalised += "/"
            normalised += Substring(segment)
        }
        return normalised.isEmpty ? "/" : normalised
    }

    /// Whether `path` is `/`, or starts with `/`, has no `//` and does not end with `/`: what the segments
    /// written one by one would give.
    static func hasNoEmptySegments(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { bytes in
            guard bytes.first == UInt8(ascii: "/") else { return false }
            if bytes.count == 1 { return true }
            var previous: UInt8 = 0
            for byte in bytes {
                if byte == UInt8(ascii: "/"), previous == UInt8(ascii: "/") { return false }
                previous = byte
            }
            return previous != UInt8(ascii: "/")
        }
    }
}
