import DataServiceCore
import Synchronization

/// Collects the writer's batch statistics for assertions.
final class BatchRecorder: Sendable {
    private let batches = Mutex<[WriteBatchStatistics]>([])

    var recorded: [WriteBatchStatistics] {
        batches.withLock { $0 }
    }

    func record(_ statistics: WriteBatchStatistics) {
        batches.withLock { $0.append(statistics) }
    }
}
