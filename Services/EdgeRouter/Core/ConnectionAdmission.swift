import Synchronization

/// How many connections the edge's HTTP server holds, and whether it takes one more: at most `limit`
/// (`http.max_connections`) at once. Shared by every event loop's accepted connections; each admitted one
/// is released when it closes.
final class ConnectionAdmission: Sendable {
    /// The most connections held at once.
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// The connections held now.
    var count: Int { self.held.load(ordering: .relaxed) }

    /// Takes one more connection if fewer than `limit` are held.
    /// - Returns: Whether it was admitted; if so, ``release()`` must follow when it closes.
    func admit() -> Bool {
        if self.held.wrappingAdd(1, ordering: .relaxed).newValue <= self.limit { return true }
        self.held.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// An admitted connection closed.
    func release() {
        self.held.wrappingSubtract(1, ordering: .relaxed)
    }
}
