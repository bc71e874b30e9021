/// What one group-commit transaction of the writer did, for metrics.
public struct WriteBatchStatistics: Sendable {
    /// The number of writes in the transaction.
    public let writes: Int
    /// The writes that were committed.
    public let committed: Int
    /// The writes that failed (conflict, not found, storage error) without affecting the others.
    public let failed: Int
    /// The time from BEGIN to the end of COMMIT.
    public let duration: Duration
}
