/// A response as the cache keeps it: enough to answer a request without the upstream.
///
/// The data service's entries keep the status, body, `ETag` and `Content-Type`, which is all its answers
/// carry. An HTTP upstream's entries (``init(status:body:upstreamFields:)``) keep the answer's end-to-end
/// header fields as well (RFC 9111 §3.1), replayed on a hit, and are revalidated with the upstream by their
/// validators once stale (``conditionalFields``).
package struct CachedResponse: Sendable, Equatable {
    /// The HTTP status (200 for documents and listings).
    package var status: Int
    /// The body bytes.
    package var body: [UInt8]
    /// The `ETag` value, if any (a document's version, quoted).
    package var etag: String?
    /// The `Content-Type` value.
    package var contentType: String
    /// An HTTP upstream's end-to-end header fields other than `Content-Type` and `ETag`, in the answer's
    /// order; `nil` for the data service's entries.
    package var upstreamFields: [(name: String, value: String)]?

    /// Fields an HTTP upstream's entry does not keep: the edge sets them for each answer it gives (`Age`,
    /// `Date`, `Server`, `Cache-Status`, `X-Request-ID`, the rate-limit fields), or they are kept apart
    /// (`Content-Type`, `ETag`). Hop-by-hop fields never reach the cache (``ForwardedHeaders/towardClient(_:)``), and an
    /// answer with `Set-Cookie` is not stored (``UpstreamCachePolicy``).
    static let fieldsNotKept: Set<String> = [
        "age", "date", "server", "cache-status", "x-request-id", "ratelimit", "ratelimit-policy", "content-type", "etag", "content-length", "set-cookie",
    ]

    /// Creates a response.
    package init(status: Int, body: [UInt8], etag: String?, contentType: String = "application/json") {
        self.status = status
        self.body = body
        self.etag = etag
        self.contentType = contentType
    }

    /// An HTTP upstream's answer as an entry: its end-to-end fields without those in ``fieldsNotKept``; an
    /// answer without `Content-Type` is replayed as `application/octet-stream` (what RFC 9110 §8.3 lets a
    /// recipient assume).
    init(status: Int, body: [UInt8], upstreamFields fields: [(name: String, value: String)]) {
        var etag: String?
        var contentType: String?
        var kept: [(name: String, value: String)] = []
        for field in fields {
            switch field.name.lowercased() {
            case "etag": etag = etag ?? field.value
            case "content-type": contentType = contentType ?? field.value
            case let name where Self.fieldsNotKept.contains(name): continue
            default: kept.append(field)
            }
        }
        self.init(status: status, body: body, etag: etag, contentType: contentType ?? "application/octet-stream")
        self.upstreamFields = kept
    }

    /// The header fields a hit replays, with room for the fields the gateway appends (`Age`, `Cache-Status`,
    /// the two rate-limit fields, `X-Request-ID`), so that none of them grows the array.
    var replayedFields: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(8 + (self.upstreamFields?.count ?? 0))
        fields.append(("Content-Type", self.contentType))
        if let etag = self.etag { fields.append(("ETag", etag)) }
        if let upstreamFields = self.upstreamFields { fields += upstreamFields }
        return fields
    }

    /// The fields of a conditional `GET` that revalidates an HTTP upstream's entry (RFC 9110 §13.1):
    /// `If-None-Match` with its `ETag`, `If-Modified-Since` with its `Last-Modified`; empty when it has
    /// neither, or is the data service's (kept coherent by invalidation events, never revalidated).
    var conditionalFields: [(name: String, value: String)] {
        guard let fields = self.upstreamFields else { return [] }
        var conditions: [(name: String, value: String)] = []
        if let etag = self.etag { conditions.append(("If-None-Match", etag)) }
        if let modified = fields.first(where: { $0.name.lowercased() == "last-modified" }) { conditions.append(("If-Modified-Since", modified.value)) }
        return conditions
    }

    /// The entry refreshed by a `304` answer to its revalidation (RFC 9111 §4.3.4): each field the `304`
    /// carries replaces the stored fields of that name; the status and body stay.
    func refreshed(by notModified: [(name: String, value: String)]) -> CachedResponse {
        let updates = notModified.filter { $0.name.lowercased() == "etag" || !Self.fieldsNotKept.contains($0.name.lowercased()) }
        let replaced = Set(updates.map { $0.name.lowercased() })
        let kept = self.replayedFields.filter { !replaced.contains($0.name.lowercased()) }
        return CachedResponse(status: self.status, body: self.body, upstreamFields: kept + updates)
    }

    /// The bytes the entry costs, as counted against the cache's budget: the body and headers plus a fixed
    /// overhead for the key, the tags and the bookkeeping.
    func cost(key: String, tags: [CacheTag]) -> Int {
        let fieldBytes = self.upstreamFields?.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 } ?? 0
        return self.body.count + (self.etag?.utf8.count ?? 0) + self.contentType.utf8.count + fieldBytes + key.utf8.count + tags.count * 48 + 160
    }

    package static func == (lhs: CachedResponse, rhs: CachedResponse) -> Bool {
        lhs.status == rhs.status && lhs.etag == rhs.etag && lhs.contentType == rhs.contentType && lhs.body == rhs.body
            && lhs.upstreamFields?.map(\.name) == rhs.upstreamFields?.map(\.name) && lhs.upstreamFields?.map(\.value) == rhs.upstreamFields?.map(\.value)
    }
}
