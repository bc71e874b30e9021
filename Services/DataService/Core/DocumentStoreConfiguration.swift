import GatehouseDataAPI

/// Settings of a ``DocumentStore``, with defaults suited to a small server.
package struct DocumentStoreConfiguration: Sendable {
    /// The SQLite database file; it and its `-wal`/`-shm` files are created when missing.
    package var path: String
    /// The largest accepted body, in UTF-8 bytes. Default 1 MiB.
    package var maxBodyBytes: Int = 1 << 20
    /// The number of read-only connections, each on its own thread. Default 2.
    package var readerCount: Int = 2
    /// The most writes committed in one transaction. Default 256.
    package var maxBatchSize: Int = 256
    /// The most writes waiting for the writer before new ones fail with `overloaded`. Default 10,000.
    package var maxQueuedWrites: Int = 10_000
    /// How long a connection waits for another process's lock. Default 5 seconds.
    package var busyTimeout: Duration = .seconds(5)
    /// Called on the writer thread after every group-commit transaction; it must return quickly.
    package var onBatch: (@Sendable (WriteBatchStatistics) -> Void)?
    /// Called on the writer thread after every transaction that committed changes, with their outbox
    /// events in version order, stamped with the time the transaction went to COMMIT; it must return quickly
    /// (``CommittedEventBuffer/append(_:)``).
    package var onCommit: (@Sendable ([InvalidationMessage.Event]) -> Void)?

    /// Creates a configuration with default settings.
    /// - Parameter path: The SQLite database file.
    package init(path: String) {
        self.path = path
    }
}
