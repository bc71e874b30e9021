/// The cache key of a request (docs/architecture.md, "Cache coherence"): the method, the normalised path,
/// the query parameters sorted, and for user-scoped routes the caller's subject, so personal data is never
/// cached under a key another caller can produce.
public enum CacheKey {
    /// Builds a key.
    /// - Parameters:
    ///   - method: `GET` (`HEAD` shares its entries).
    ///   - path: The path; empty segments (`//`) are dropped.
    ///   - query: The query string without `?`, if any.
    ///   - subject: The caller's `sub` for a user-scoped route, `nil` for a public one.
    public static func make(method: String, path: String, query: String?, subject: String?) -> String {
        let normalisedPath = "/" + path.split(separator: "/").joined(separator: "/")
        var key = (method == "HEAD" ? "GET" : method) + " " + normalisedPath
        if let query, !query.isEmpty {
            let pairs = query.split(separator: "&").filter { !$0.isEmpty }.sorted()
            if !pairs.isEmpty { key += "?" + pairs.joined(separator: "&") }
        }
        if let subject {
            // A subject cannot contain a space (issuer names are A-Z a-z 0-9 _ . @ -), so this cannot collide with a path.
            key += " sub=" + subject
        }
        return key
    }
}
