import Metrics

/// Applies the path invalidation messages of other edges and services (``PathInvalidationMessage``) to the
/// response cache: each path drops its entries, and fills in flight that took their ticket before are not
/// stored (``ResponseCache``). This edge's own messages are skipped (it dropped the paths before publishing
/// them); an unreadable message is counted, changes nothing, and is returned for the subscriber to log.
package final class PathInvalidationApplier: Sendable {
    /// What one message did.
    package enum Outcome: Sendable, Equatable {
        /// Applied; this many entries were dropped.
        case applied(dropped: Int)
        /// This edge published it.
        case own
        /// Not a message of the documented format.
        case unreadable(PathInvalidationMessage.Unreadable)
    }

    private let cache: ResponseCache
    private let origin: String

    /// Creates an applier.
    /// - Parameters:
    ///   - cache: The cache it drops entries of.
    ///   - origin: This edge's `origin`, whose messages it skips.
    package init(cache: ResponseCache, origin: String) {
        self.cache = cache
        self.origin = origin
    }

    /// Applies one message of `events.path_invalidations_channel`.
    @discardableResult
    package func apply(message text: String) -> Outcome {
        let message: PathInvalidationMessage
        do {
            message = try PathInvalidationMessage(jsonText: text)
        } catch {
            EdgeMetrics.pathInvalidationMessages(.unreadable).increment()
            return .unreadable(error)
        }
        guard message.origin != self.origin else { return .own }
        EdgeMetrics.pathInvalidationMessages(.received).increment()
        return .applied(dropped: self.cache.invalidate(message.paths.map { .path($0) }))
    }
}
