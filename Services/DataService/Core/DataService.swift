import GatehouseEvents
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import Prometheus
import ServiceLifecycle

/// The running data service: documents in SQLite over RPC, the publisher of their invalidation events, and
/// the admin server, in one service group.
package struct DataService: LaunchableService {
    package static let identity = ServiceIdentity(
        commandName: "data-service", logLabel: "gatehouse.data",
        abstract: "Gatehouse data service: JSON documents in SQLite, served over RPC, with invalidation events on Redis.",
        discussion: "Configuration: docs/configuration.md. SIGTERM/SIGINT shut down gracefully.",
        serveAbstract: "Serve documents over RPC and publish invalidation events (the default)."
    )

    package let serviceGroup: ServiceGroup
    package let adminServer: AdminServer
    private let configuration: DataServiceConfiguration
    private let store: DocumentStore
    private let rpc: RPCServer
    private let logger: Logger

    /// Opens the store (``UnusableConfiguration`` when it does not open) and wires the service around it.
    package static func make(
        setup: DataServiceConfiguration, registry: PrometheusCollectorRegistry, signals: ServiceSignals, logger: Logger
    ) async throws -> DataService {
        var configuration = setup
        // The writer hands committed events to the publisher through it: room for a few messages' worth,
        // beyond which the publisher reads them back from the outbox.
        let committed = CommittedEventBuffer(capacity: 4 * configuration.eventsBatchSize)
        configuration.storage.onBatch = CommitMetrics.record
        configuration.storage.onCommit = committed.append
        let store: DocumentStore
        do {
            store = try await DocumentStore.open(configuration.storage)
        } catch {
            throw UnusableConfiguration(error)
        }
        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.data.redis"))
        let publisher = OutboxDrainer(
            store: store,
            committed: committed,
            redis: redis,
            channel: configuration.eventsChannel,
            batchSize: configuration.eventsBatchSize,
            pollInterval: configuration.eventsPollInterval,
            logger: logger
        )
        let service = DocumentRPCService(store: store, collections: configuration.collections)
        let rpc = RPCServer(configuration: configuration.rpc, handlers: service.rpcHandlers, logger: Logger(label: "gatehouse.data.rpc"))
        let admin = AdminServer(
            observability: configuration.observability, registry: registry,
            readinessChecks: [
                ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 },
                ReadinessCheck(name: "sqlite") { try await store.dataVersion() >= 0 },
            ],
            logger: Logger(label: "gatehouse.data.admin")
        )
        // Shut down in reverse: RPC first (writes in flight commit), then the publisher sends what they
        // committed, then Redis.
        let group = ServiceGroup(services: [redis, publisher, admin, rpc], gracefulShutdownSignals: signals.gracefulShutdown, logger: logger)
        return DataService(serviceGroup: group, adminServer: admin, configuration: configuration, store: store, rpc: rpc, logger: logger)
    }

    package func logListening() async throws {
        let rpcPort = try await self.rpcPort()
        let adminPort = try await self.adminPort()
        let version = (try? await self.store.dataVersion()) ?? 0
        self.logger.notice(
            "data service listening",
            metadata: [
                "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                "storage.path": "\(self.configuration.storage.path)",
                "data.version": "\(version)",
            ]
        )
    }

    /// Closes the store after graceful shutdown.
    package func close() async {
        await self.store.close()
    }

    /// The RPC server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: The bind error.
    package func rpcPort() async throws -> Int {
        try await self.rpc.localPort()
    }
}
