/// What one group-commit transaction of the writer did, for metrics.
package struct WriteBatchStatistics: Sendable {
    /// The number of writes in the transaction.
    package let writes: Int
    /// The writes that were committed.
    package let committed: Int
    /// The writes that failed (conflict, not found, storage error) without affecting the others.
    package let failed: Int
    /// The time from BEGIN to the end of COMMIT.
    package let duration: Duration
}
