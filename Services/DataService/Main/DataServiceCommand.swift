import ArgumentParser
import DataServiceCore
import Foundation
import GatehouseConfig
import GatehouseEvents
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import ServiceLifecycle
import UnixSignals

/// `data-service`: JSON documents in SQLite over RPC, with invalidation events on Redis.
@main
struct DataServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-service",
        abstract: "Gatehouse data service: JSON documents in SQLite, served over RPC, with invalidation events on Redis.",
        discussion: "Configuration: docs/configuration.md. SIGTERM/SIGINT shut down gracefully.",
        subcommands: [Serve.self, Seed.self, Backup.self],
        defaultSubcommand: Serve.self
    )
}

/// The options every subcommand shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file; DATA_* environment variables override it.")
    var config: String?

    func document() throws(ConfigError) -> ConfigDocument {
        try ConfigDocument.load(path: self.config, environment: ProcessInfo.processInfo.environment, prefix: DataServiceConfiguration.environmentPrefix)
    }
}

/// Prints why the service cannot start and exits with `EX_CONFIG` (78).
func exitForConfiguration(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("data-service: cannot start:\n\(error)\n".utf8))
    return ExitCode(78)
}

/// Opens the store, creating the database's folder when needed.
func openStore(_ configuration: DocumentStoreConfiguration) async throws -> DocumentStore {
    let folder = URL(fileURLWithPath: configuration.path).deletingLastPathComponent()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return try await DocumentStore(configuration)
}

/// `data-service serve` (the default): the RPC service.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve documents over RPC and publish invalidation events (the default).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .customLong("check-config"), help: "Check the configuration (file, variables and the files it names), print 'configuration ok' or each problem, and exit without listening.")
    var checkConfig = false

    func run() async throws {
        var configuration: DataServiceConfiguration
        let store: DocumentStore
        // The writer hands committed events to the publisher through it: room for a few messages' worth,
        // beyond which the publisher reads them back from the outbox.
        let committed: CommittedEventBuffer
        let notices: [ConfigNotice]
        do {
            var document = try self.options.document()
            configuration = try DataServiceConfiguration(reading: &document)
            notices = document.notices
            if self.checkConfig {
                for notice in notices where notice.severity == .warning { print("data-service: warning: \(notice)") }
                print("data-service: configuration ok")
                return
            }
            committed = CommittedEventBuffer(capacity: 4 * configuration.eventsBatchSize)
            configuration.storage.onBatch = CommitMetrics.record
            configuration.storage.onCommit = committed.append
            store = try await openStore(configuration.storage)
        } catch {
            throw exitForConfiguration(error)
        }

        LoggingBootstrap.bootstrap(format: configuration.observability.logFormat, level: configuration.observability.logLevel)
        let registry = MetricsBootstrap.bootstrap()
        let logger = Logger(label: "gatehouse.data")
        logger.log(configNotices: notices)

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
            host: configuration.observability.adminHost,
            port: configuration.observability.adminPort,
            registry: registry,
            readinessChecks: [
                ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 },
                ReadinessCheck(name: "sqlite") { try await store.dataVersion() >= 0 },
            ],
            logger: Logger(label: "gatehouse.data.admin")
        )
        // Shut down in reverse: RPC first (writes in flight commit), then the publisher sends what they
        // committed, then Redis.
        let group = ServiceGroup(services: [redis, publisher, admin, rpc], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let rpcPort = try await rpc.localPort()
            let adminPort = try await admin.listeningPort()
            let version = (try? await store.dataVersion()) ?? 0
            logger.notice(
                "data service listening",
                metadata: [
                    "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                    "storage.path": "\(configuration.storage.path)",
                    "data.version": "\(version)",
                ]
            )
            try await tasks.waitForAll()
        }
        await store.close()
    }
}

/// `data-service seed --count N`: sample documents for demos and benchmarks.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write N sample documents (ids doc-000001…; running it again replaces them).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "How many documents.") var count = 1000
    @Option(help: "Their collection.") var collection = "articles"

    func run() async throws {
        let store: DocumentStore
        do {
            var document = try self.options.document()
            store = try await openStore(try DataServiceConfiguration.readStorage(&document))
        } catch {
            throw exitForConfiguration(error)
        }
        let started = ContinuousClock.now
        let chunk = 512
        for first in stride(from: 1, through: self.count, by: chunk) {
            try await withThrowingDiscardingTaskGroup { group in
                for number in first..<min(first + chunk, self.count + 1) {
                    group.addTask {
                        _ = try await store.write(
                            .put(collection: self.collection, id: String(format: "doc-%06d", number), body: SampleDocument.body(number: number), owner: "seed")
                        )
                    }
                }
            }
        }
        let version = try await store.dataVersion()
        await store.close()
        print("seeded \(self.count) documents in '\(self.collection)' in \(ContinuousClock.now - started); data version \(version)")
    }
}

/// `data-service backup PATH`: a consistent copy while the service runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a consistent online copy of the database to PATH (which must not exist).")

    @OptionGroup var options: ConfigOptions
    @Argument(help: "The copy's path.") var path: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: self.path) else {
            throw ValidationError("\(self.path) already exists; choose a new path")
        }
        let store: DocumentStore
        do {
            var document = try self.options.document()
            store = try await openStore(try DataServiceConfiguration.readStorage(&document))
        } catch {
            throw exitForConfiguration(error)
        }
        try await store.backup(to: self.path)
        let version = try await store.dataVersion()
        await store.close()
        print("backed up to \(self.path) at data version \(version)")
    }
}
