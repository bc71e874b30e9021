/// What a cached response depends on, so that an invalidation event drops exactly the entries it affects.
package enum CacheTag: Hashable, Sendable {
    /// One document: its `GET /v1/{collection}/{id}` responses.
    case document(collection: String, id: String)
    /// A collection's listings: every `GET /v1/{collection}` response, whatever its query.
    case collection(String)
    /// A path of an HTTP upstream route, empty segments dropped (`/articles/7`): its `GET` answers, whatever
    /// their query; a write to it names it and its parent (`/articles`), the listing above it.
    case path(String)
}
