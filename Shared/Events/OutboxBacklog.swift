/// The events of an ``OutboxSource`` that wait to be published.
public struct OutboxBacklog: Sendable, Equatable {
    /// How many events wait.
    public var count: Int
    /// How long the oldest of them has waited; `nil` when the source does not know (or none waits).
    public var oldestAge: Duration?

    /// Creates a backlog.
    /// - Parameters:
    ///   - count: How many events wait.
    ///   - oldestAge: How long the oldest of them has waited, if the source knows.
    public init(count: Int, oldestAge: Duration? = nil) {
        self.count = count
        self.oldestAge = oldestAge
    }
}
