import GatehouseFleet
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import Prometheus
import ServiceLifecycle

/// The running limiter: the RPC server over the decider, with Redis, the fleet's heartbeat, the policy
/// file's reloader and the admin server, in one service group.
package struct LimiterService: LaunchableService {
    package static let identity = ServiceIdentity(
        commandName: "limiter", logLabel: "gatehouse.limiter",
        abstract: "Gatehouse rate limiter: exact distributed rate limits in Redis, answered over RPC.",
        discussion: "Configuration: docs/configuration.md. SIGHUP reloads the policy file; SIGTERM/SIGINT shut down gracefully."
    )
    package static let durationBuckets = LimiterMetrics.durationBuckets

    package let serviceGroup: ServiceGroup
    package let adminServer: AdminServer
    private let setup: LimiterSetup
    private let rpc: RPCServer
    private let logger: Logger

    package static func make(
        setup: LimiterSetup, registry: PrometheusCollectorRegistry, signals: ServiceSignals, logger: Logger
    ) async -> LimiterService {
        let configuration = setup.configuration
        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.limiter.redis"))
        let fleet = FleetMembership(client: redis, role: .limiter, memberID: FleetMembership.processMemberID(), logger: logger)
        let decider = LimiterDecider(
            catalog: setup.files,
            limiter: RedisRateLimiter(client: redis, logger: logger),
            breaker: CircuitBreaker(failureThreshold: configuration.breakerFailureThreshold, openDuration: configuration.breakerOpenDuration),
            denials: DenialCache(capacity: configuration.denialCacheCapacity),
            leases: configuration.leases,
            fleet: fleet,
            logger: logger
        )
        let reloader = FileReloader(
            path: configuration.policyFile,
            naming: FileReloader.Naming(service: "limiter", entry: "policy", entries: "policies"),
            inForce: setup.files.policies.count,
            watchInterval: configuration.policyWatchInterval,
            hangups: await signals.hangups(),
            logger: logger
        ) { path in
            let catalog = try PolicyCatalog.load(path: path)
            decider.replaceCatalog(catalog)
            return catalog.policies.count
        }
        let rpc = RPCServer(configuration: configuration.rpc, handlers: decider.rpcHandlers, logger: Logger(label: "gatehouse.limiter.rpc"))
        let admin = AdminServer(
            observability: configuration.observability, registry: registry,
            readinessChecks: [ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 }],
            logger: Logger(label: "gatehouse.limiter.admin")
        )
        // Shut down in reverse: RPC first (calls in flight finish, using Redis), Redis last.
        let group = ServiceGroup(
            services: [redis, fleet, reloader, admin, rpc],
            gracefulShutdownSignals: signals.gracefulShutdown,
            logger: logger
        )
        return LimiterService(serviceGroup: group, adminServer: admin, setup: setup, rpc: rpc, logger: logger)
    }

    package func logListening() async throws {
        let rpcPort = try await self.rpcPort()
        let adminPort = try await self.adminPort()
        self.logger.notice(
            "limiter listening",
            metadata: [
                "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                "policies.file": "\(self.setup.configuration.policyFile)", "policies.count": "\(self.setup.files.policies.count)",
            ]
        )
    }

    /// The RPC server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: The bind error.
    package func rpcPort() async throws -> Int {
        try await self.rpc.localPort()
    }
}
