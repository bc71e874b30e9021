import GatehouseConfig
import GatehouseDataAPI
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis

/// Everything the `data-service` executable reads from its configuration file and `DATA_*` variables
/// (docs/configuration.md, "data-service").
package struct DataServiceConfiguration: Sendable {
    /// The environment variable prefix.
    package static let environmentPrefix = "DATA"
    /// The default RPC port.
    package static let defaultRPCPort = 7102
    /// The default admin (metrics, health) port.
    package static let defaultAdminPort = 9102

    /// The RPC server (`rpc.*`).
    package var rpc: RPCServerConfiguration
    /// Redis (`redis.*`), where invalidation events are published.
    package var redis: RedisConfiguration
    /// Logs and admin server (`log.*`, `admin.*`).
    package var observability: ObservabilityConfiguration
    /// The SQLite file and write limits (`storage.*`).
    package var storage: DocumentStoreConfiguration
    /// The collections clients may use (`collections`); empty: any valid name.
    package var collections: Set<String>
    /// The pub/sub channel of invalidation events (`events.channel`).
    package var eventsChannel: String
    /// The most events in one published message (`events.batch_size`).
    package var eventsBatchSize: Int
    /// How often the outbox is checked when no write signalled it (`events.poll_interval_ms`).
    package var eventsPollInterval: Duration

    /// Reads the configuration and rejects keys and `DATA_*` variables it does not know.
    /// - Parameter document: The file and environment.
    /// - Throws: ``ConfigError`` naming the bad key or variable, `RPCConfigurationError` for a short secret,
    ///   ``DataServiceConfigurationError`` when a document of `storage.max_body_bytes` does not fit in a frame of
    ///   `rpc.max_frame_bytes`.
    package init(reading document: inout ConfigDocument) throws {
        self.rpc = try RPCServerConfiguration(reading: &document, defaultPort: Self.defaultRPCPort)
        self.redis = try RedisConfiguration(reading: &document)
        self.observability = try ObservabilityConfiguration(reading: &document, defaultAdminPort: Self.defaultAdminPort)
        self.storage = try Self.readStorage(&document)
        try Self.checkDocumentFitsFrame(maxBodyBytes: self.storage.maxBodyBytes, maxFrameBytes: self.rpc.maximumFrameBytes, document: &document)
        self.collections = Set(
            try document.stringList(
                "collections",
                default: [],
                expected: "names of 1-\(DocumentName.maximumLength) characters from A-Z a-z 0-9 _ . -"
            ) { (try? DocumentName.validate($0, field: "collection")) != nil }
        )
        self.eventsChannel = try document.string("events.channel", default: InvalidationMessage.defaultChannel)
        self.eventsBatchSize = try document.int("events.batch_size", default: 256, range: 1...10_000)
        self.eventsPollInterval = try document.duration("events.poll_interval_ms", default: .seconds(1), range: .milliseconds(10) ... .seconds(60))
        try document.rejectUnknownKeys(valid: document.readKeys)
    }

    /// Refuses a body limit that a frame cannot carry: a `data.Put` of the largest body, and the `data.Get`,
    /// write and one-document `data.List` answers holding it, take the body plus at most
    /// ``DocumentWireSize/frameAllowance`` bytes.
    private static func checkDocumentFitsFrame(maxBodyBytes: Int, maxFrameBytes: Int, document: inout ConfigDocument) throws(DataServiceConfigurationError) {
        let needed = maxBodyBytes + DocumentWireSize.frameAllowance
        guard needed > maxFrameBytes else { return }
        let largestBody = maxFrameBytes - DocumentWireSize.frameAllowance
        throw DataServiceConfigurationError(
            "storage.max_body_bytes is \(maxBodyBytes) (\(document.origin(of: "storage.max_body_bytes"))) and rpc.max_frame_bytes is \(maxFrameBytes)"
                + " (\(document.origin(of: "rpc.max_frame_bytes"))): a frame must hold a document of the largest body plus"
                + " \(DocumentWireSize.frameAllowance) bytes of RPC envelope, names, owner and versions, \(needed) bytes;"
                + " raise rpc.max_frame_bytes to at least \(needed)"
                + (largestBody >= 2 ? " or lower storage.max_body_bytes to at most \(largestBody)" : "")
        )
    }

    /// Reads the `storage.*` keys; also used by `data-service seed` and `backup`.
    /// - Parameter document: The file and environment.
    package static func readStorage(_ document: inout ConfigDocument) throws(ConfigError) -> DocumentStoreConfiguration {
        var storage = DocumentStoreConfiguration(path: try document.string("storage.path", default: "data/documents.sqlite"))
        storage.maxBodyBytes = try document.int("storage.max_body_bytes", default: storage.maxBodyBytes, range: 2...(64 << 20))
        storage.readerCount = try document.int("storage.readers", default: storage.readerCount, range: 1...64)
        storage.maxBatchSize = try document.int("storage.max_batch_writes", default: storage.maxBatchSize, range: 1...10_000)
        storage.maxQueuedWrites = try document.int("storage.max_queued_writes", default: storage.maxQueuedWrites, range: 1...1_000_000)
        storage.busyTimeout = try document.duration("storage.busy_timeout_ms", default: storage.busyTimeout, range: .milliseconds(1) ... .seconds(60))
        return storage
    }
}
