import GatehouseLimiterPolicies
import ArgumentParser
import Foundation
import GatehouseConfig
import GatehouseFleet
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import LimiterCore
import Logging
import ServiceLifecycle
import UnixSignals

/// `limiter`: answers `limiter.Check`, `limiter.CheckBatch`, `limiter.AcquireBatch`, `limiter.Release`, `limiter.Peek` and
/// `limiter.Reset` over RPC, with counters in Redis.
@main
struct LimiterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limiter",
        abstract: "Gatehouse rate limiter: exact distributed rate limits in Redis, answered over RPC.",
        discussion: "Configuration: docs/configuration.md. SIGHUP reloads the policy file; SIGTERM/SIGINT shut down gracefully."
    )

    @Option(name: .long, help: "YAML configuration file; LIMITER_* environment variables override it.")
    var config: String?

    @Flag(name: .customLong("check-config"), help: "Check the configuration (file, variables and the files it names), print 'configuration ok' or each problem, and exit without listening.")
    var checkConfig = false

    func run() async throws {
        let configuration: LimiterConfiguration
        let catalog: PolicyCatalog
        let notices: [ConfigNotice]
        do {
            var document = try ConfigDocument.load(
                path: self.config,
                environment: ProcessInfo.processInfo.environment,
                prefix: LimiterConfiguration.environmentPrefix
            )
            configuration = try LimiterConfiguration(reading: &document)
            notices = document.notices
            catalog = try PolicyCatalog.load(path: configuration.policyFile)
        } catch {
            FileHandle.standardError.write(Data("limiter: cannot start:\n\(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        if self.checkConfig {
            for notice in notices where notice.severity == .warning { print("limiter: warning: \(notice)") }
            print("limiter: configuration ok (\(catalog.policies.count) policies)")
            return
        }

        LoggingBootstrap.bootstrap(format: configuration.observability.logFormat, level: configuration.observability.logLevel)
        let registry = MetricsBootstrap.bootstrap(durationBuckets: LimiterMetrics.durationBuckets)
        let logger = Logger(label: "gatehouse.limiter")
        logger.log(configNotices: notices)

        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.limiter.redis"))
        let fleet = FleetMembership(client: redis, role: .limiter, memberID: FleetMembership.processMemberID(), logger: logger)
        let decider = LimiterDecider(
            catalog: catalog,
            limiter: RedisRateLimiter(client: redis, logger: logger),
            breaker: CircuitBreaker(failureThreshold: configuration.breakerFailureThreshold, openDuration: configuration.breakerOpenDuration),
            denials: DenialCache(capacity: configuration.denialCacheCapacity),
            leases: configuration.leases,
            fleet: fleet,
            logger: logger
        )
        // Trapped before anything listens, so a SIGHUP can never kill the process or go unnoticed.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloader = FileReloader(
            path: configuration.policyFile,
            naming: FileReloader.Naming(
                applied: "policies reloaded", rejected: "policy file rejected; the previous policies stay in force",
                fileKey: "policies.file", countKey: "policies.count",
                reloadsMetric: "gatehouse_limiter_policy_reloads_total", countMetric: "gatehouse_limiter_policies"
            ),
            inForce: catalog.policies.count,
            watchInterval: configuration.policyWatchInterval,
            hangups: hangups,
            logger: logger
        ) { path in
            let catalog = try PolicyCatalog.load(path: path)
            decider.replaceCatalog(catalog)
            return catalog.policies.count
        }
        let rpc = RPCServer(configuration: configuration.rpc, handlers: decider.rpcHandlers, logger: Logger(label: "gatehouse.limiter.rpc"))
        let admin = AdminServer(
            host: configuration.observability.adminHost,
            port: configuration.observability.adminPort,
            registry: registry,
            readinessChecks: [ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 }],
            logger: Logger(label: "gatehouse.limiter.admin")
        )
        // Shut down in reverse: RPC first (calls in flight finish, using Redis), Redis last.
        let group = ServiceGroup(
            services: [redis, fleet, reloader, admin, rpc],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let rpcPort = try await rpc.localPort()
            let adminPort = try await admin.listeningPort()
            logger.notice(
                "limiter listening",
                metadata: [
                    "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                    "policies.file": "\(configuration.policyFile)", "policies.count": "\(catalog.policies.count)",
                ]
            )
            try await tasks.waitForAll()
        }
    }
}
