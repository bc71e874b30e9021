/// A response as the cache keeps it: enough to answer a request without the data service.
public struct CachedResponse: Sendable, Equatable {
    /// The HTTP status (200 for documents and listings).
    public var status: Int
    /// The body bytes.
    public var body: [UInt8]
    /// The `ETag` value, if any (a document's version, quoted).
    public var etag: String?
    /// The `Content-Type` value.
    public var contentType: String

    /// Creates a response.
    public init(status: Int, body: [UInt8], etag: String?, contentType: String = "application/json") {
        self.status = status
        self.body = body
        self.etag = etag
        self.contentType = contentType
    }

    /// The bytes the entry costs, as counted against the cache's budget: the body and headers plus a fixed
    /// overhead for the key, the tags and the bookkeeping.
    func cost(key: String, tags: [CacheTag]) -> Int {
        self.body.count + (self.etag?.utf8.count ?? 0) + self.contentType.utf8.count + key.utf8.count + tags.count * 48 + 160
    }
}
