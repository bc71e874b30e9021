import ArgumentParser
import AuthIssuerCore
import Foundation
import GatehouseConfig
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import ServiceLifecycle
import UnixSignals

/// `auth-issuer serve` (the default): the HTTP API, the RPC service and the event publisher.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the OAuth endpoints, the JWKS and auth.RevocationState (the default).")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .customLong("check-config"), help: "Check the configuration (file, variables and the files it names), print 'configuration ok' or each problem, and exit without listening.")
    var checkConfig = false

    func run() async throws {
        let configuration: AuthIssuerConfiguration
        let store: AuthStore
        let notices: [ConfigNotice]
        do {
            var document = try self.options.document()
            configuration = try AuthIssuerConfiguration(reading: &document)
            notices = document.notices
            if self.checkConfig {
                for notice in notices where notice.severity == .warning { print("auth-issuer: warning: \(notice)") }
                print("auth-issuer: configuration ok")
                return
            }
            store = try await AuthStore(path: configuration.storagePath)
        } catch {
            throw exitForConfiguration(error)
        }
        LoggingBootstrap.bootstrap(format: configuration.observability.logFormat, level: configuration.observability.logLevel)
        let registry = MetricsBootstrap.bootstrap()
        let logger = Logger(label: "gatehouse.auth")
        logger.log(configNotices: notices)

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
        let throttle = configuration.throttling.allOff ? nil : IssuerThrottle(limiter: limiter, policies: configuration.throttling, logger: logger)
        let publisher = AuthEventPublisher(
            store: store, keys: keys, redis: redis, policy: policy, revocationsChannel: configuration.revocationsChannel,
            keysChannel: configuration.keysChannel, pollInterval: configuration.pollInterval, logger: logger
        )
        let tokens = TokenService(
            store: store, keys: keys, hasher: hasher, throttle: throttle, policy: policy, logger: logger,
            revocationAdded: { publisher.revocationAdded() }
        )
        let revocationState = RevocationStateService(store: store, maximumFrameBytes: configuration.rpc.maximumFrameBytes)
        let rpc = RPCServer(configuration: configuration.rpc, handlers: revocationState.rpcHandlers, logger: Logger(label: "gatehouse.auth.rpc"))
        let (httpPorts, httpPortContinuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
        let http = AuthHTTPServer.application(
            tokens: tokens, keys: keys, policy: policy, http: configuration.http, logger: Logger(label: "gatehouse.auth.http"),
            onListening: { port in httpPortContinuation.yield(port) }
        )
        let admin = AdminServer(
            host: configuration.observability.adminHost,
            port: configuration.observability.adminPort,
            registry: registry,
            readinessChecks: [
                ReadinessCheck(name: "rpc") { try await rpc.localPort() > 0 },
                ReadinessCheck(name: "sqlite") { try await store.keyGeneration() > 0 },
                ReadinessCheck(name: "signing_key") { keys.current != nil },
            ],
            logger: Logger(label: "gatehouse.auth.admin")
        )
        // Shut down in reverse: HTTP drains first, then RPC; the publisher sends what committed; clients last.
        let group = ServiceGroup(services: [redis, limiter, publisher, admin, rpc, http], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let rpcPort = try await rpc.localPort()
            let adminPort = try await admin.listeningPort()
            var ports = httpPorts.makeAsyncIterator()
            let httpPort = await ports.next() ?? configuration.http.port
            let synchronous = try await store.synchronousSetting()
            logger.notice(
                "auth issuer listening",
                metadata: [
                    "http.port": "\(httpPort)", "rpc.port": "\(rpcPort)", "admin.port": "\(adminPort)",
                    "tokens.issuer": "\(policy.issuer)", "keys.signing_kid": "\(keys.current?.signingKID ?? "-")",
                    "storage.synchronous": "\(synchronous)",
                ]
            )
            try await tasks.waitForAll()
        }
        await store.close()
    }
}
