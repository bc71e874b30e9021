/// What a cached response depends on, so that an invalidation event drops exactly the entries it affects.
public enum CacheTag: Hashable, Sendable {
    /// One document: its `GET /v1/{collection}/{id}` responses.
    case document(collection: String, id: String)
    /// A collection's listings: every `GET /v1/{collection}` response, whatever its query.
    case collection(String)
}
