import Metrics

/// Group-commit metrics, recorded from ``DocumentStoreConfiguration/onBatch`` on the writer thread:
/// `gatehouse_data_commit_batch_writes` (writes per transaction, histogram),
/// `gatehouse_data_commit_duration_seconds` (one transaction, from `BEGIN` to `COMMIT`, histogram).
package enum CommitMetrics {
    private static let batchWrites = Recorder(label: "gatehouse_data_commit_batch_writes")
    private static let duration = Metrics.Timer(label: "gatehouse_data_commit_duration_seconds")

    /// Records one committed batch.
    /// - Parameter statistics: What the writer reports for the batch.
    @Sendable package static func record(_ statistics: WriteBatchStatistics) {
        Self.batchWrites.record(statistics.writes)
        let elapsed = statistics.duration.components
        Self.duration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
