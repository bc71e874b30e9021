import Logging

/// What an ``OutboxDrainer`` exports and logs for one kind of events (docs/operations.md lists each
/// service's names and lines).
public struct OutboxReporting: Sendable {
    /// The counter of events Redis accepted.
    public let publishedLabel: String
    /// The counter of failed attempts (each retried with backoff).
    public let failuresLabel: String
    /// The gauge of events not yet published: 0 after a drain, the backlog after a failed attempt or a full
    /// batch.
    public let depthLabel: String
    /// The gauge of the oldest unpublished event's age in seconds, or `nil` when not exported.
    public let oldestAgeLabel: String?
    /// The warning logged once when publishing starts failing.
    public let failing: Logger.Message
    /// The notice logged when publishing works again.
    public let recovered: Logger.Message

    /// Creates the names.
    /// - Parameters:
    ///   - publishedLabel: The counter of events Redis accepted.
    ///   - failuresLabel: The counter of failed attempts.
    ///   - depthLabel: The gauge of events not yet published.
    ///   - oldestAgeLabel: The gauge of the oldest one's age, or `nil`.
    ///   - failing: The warning logged once per outage.
    ///   - recovered: The notice logged when it ends.
    public init(
        publishedLabel: String, failuresLabel: String, depthLabel: String, oldestAgeLabel: String?, failing: Logger.Message,
        recovered: Logger.Message
    ) {
        self.publishedLabel = publishedLabel
        self.failuresLabel = failuresLabel
        self.depthLabel = depthLabel
        self.oldestAgeLabel = oldestAgeLabel
        self.failing = failing
        self.recovered = recovered
    }
}
