import GatehouseAuthAPI
import GatehouseLimiterAPI
import GatehouseNIOSupport
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import Prometheus
import ServiceLifecycle

/// The running auth issuer: the OAuth endpoints and JWKS over HTTP, `auth.RevocationState` over RPC, the
/// publisher of revocation and key events, and the admin server, in one service group.
package struct AuthIssuerService: LaunchableService {
    package static let identity = ServiceIdentity(
        commandName: "auth-issuer", logLabel: "gatehouse.auth",
        abstract: "Gatehouse auth issuer: OAuth 2.0 token endpoint, JWKS, refresh and revocation.",
        discussion: """
            Configuration: docs/configuration.md. The management subcommands work on the database directly; a running \
            issuer picks their changes up within events.poll_interval_ms. Passwords are read from standard input or from \
            the environment variable named by --password-env, never from the command line.
            """,
        serveAbstract: "Serve the OAuth endpoints, the JWKS and auth.RevocationState (the default)."
    )

    package let serviceGroup: ServiceGroup
    package let adminServer: AdminServer
    private let store: AuthStore
    private let keys: SigningKeyRing
    private let policy: TokenPolicy
    private let boundHTTPPort: BoundPort
    private let rpc: RPCServer
    private let logger: Logger

    /// Opens the database (``UnusableConfiguration`` when it does not open), makes sure signing keys exist,
    /// creates the bootstrap admin user when configured and missing, and wires the service.
    package static func make(
        setup configuration: AuthIssuerConfiguration, registry: PrometheusCollectorRegistry, signals: ServiceSignals, logger: Logger
    ) async throws -> AuthIssuerService {
        let store: AuthStore
        do {
            store = try await AuthStore(path: configuration.storagePath)
        } catch {
            throw UnusableConfiguration(error)
        }
        let policy = configuration.tokens
        try await AuthEventPublisher.ensureKeys(store: store, policy: policy)
        let keys = SigningKeyRing()
        try await keys.reload(from: store)
        let hasher = PasswordHasher(
            cost: policy.bcryptCost,
            queue: PasswordHashingQueue(concurrency: configuration.passwordHashing.concurrency, waitingLimit: configuration.passwordHashing.waitingLimit)
        )
        if let password = configuration.bootstrapAdminPassword, try await store.user(named: configuration.bootstrapAdminUser) == nil {
            try await store.addUser(name: configuration.bootstrapAdminUser, passwordHash: try await hasher.hash(password), roles: ["admin"])
            logger.notice("bootstrap admin user created", metadata: ["auth.username": "\(configuration.bootstrapAdminUser)"])
        }

        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.auth.redis"))
        let limiter = RPCClient(configuration: configuration.limiter, logger: Logger(label: "gatehouse.auth.limiter"))
        let throttle = configuration.throttling.allOff ? nil : IssuerThrottle(limiter: LimiterClient(rpc: limiter), policies: configuration.throttling, logger: logger)
        let publisher = AuthEventPublisher(
            store: store, keys: keys, redis: redis, policy: policy, revocationsChannel: configuration.authEventChannels.revocations,
            keysChannel: configuration.authEventChannels.keys, pollInterval: configuration.pollInterval, logger: logger
        )
        let tokens = TokenService(
            store: store, keys: keys, hasher: hasher, throttle: throttle, policy: policy, logger: logger,
            revocationAdded: { publisher.revocationAdded() }
        )
        let revocationState = RevocationStateService(store: store, maximumFrameBytes: configuration.rpc.maximumFrameBytes)
        let rpc = RPCServer(configuration: configuration.rpc, handlers: revocationState.rpcHandlers, logger: Logger(label: "gatehouse.auth.rpc"))
        let httpPort = BoundPort()
        let http = AuthHTTPServer.application(
            tokens: tokens, keys: keys, policy: policy, http: configuration.http, logger: Logger(label: "gatehouse.auth.http"),
            onListening: { port in httpPort.announce(port) }
        )
        let admin = AdminServer(
            observability: configuration.observability, registry: registry,
            readinessChecks: [
                ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 },
                ReadinessCheck(name: "sqlite") { try await store.keyGeneration() > 0 },
                ReadinessCheck(name: "signing_key") { keys.current != nil },
            ],
            logger: Logger(label: "gatehouse.auth.admin")
        )
        // Shut down in reverse: HTTP drains first, then RPC; the publisher sends what committed; clients last.
        let group = ServiceGroup(
            services: [redis, limiter, publisher, admin, rpc, http], gracefulShutdownSignals: signals.gracefulShutdown, logger: logger
        )
        return AuthIssuerService(
            serviceGroup: group, adminServer: admin, store: store, keys: keys, policy: policy, boundHTTPPort: httpPort, rpc: rpc, logger: logger
        )
    }

    package func logListening() async throws {
        let rpcPort = try await self.rpcPort()
        let adminPort = try await self.adminPort()
        let httpPort = try await self.httpPort()
        let synchronous = try await self.store.synchronousSetting()
        self.logger.notice(
            "auth issuer listening",
            metadata: [
                "http.port": "\(httpPort)", "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                "tokens.issuer": "\(self.policy.issuer)", "keys.signing_kid": "\(self.keys.current?.signingKID ?? "-")",
                "storage.synchronous": "\(synchronous)",
            ]
        )
    }

    /// Closes the database after graceful shutdown.
    package func close() async {
        await self.store.close()
    }

    /// The HTTP server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    package func httpPort() async throws -> Int {
        try await self.boundHTTPPort.value()
    }

    /// The RPC server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: The bind error.
    package func rpcPort() async throws -> Int {
        try await self.rpc.localPort()
    }
}
