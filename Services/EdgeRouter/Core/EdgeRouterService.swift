import GatehouseAuthAPI
import GatehouseDataAPI
import GatehouseFleet
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseNIOSupport
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import Prometheus
import ServiceLifecycle

/// The running edge router: the public HTTP server over the gateway, its data-service upstream and the HTTP
/// upstreams of routes with `upstream:` (made by the gateway when first needed), with
/// the clients of the limiter, the data service and the issuer, the event subscriber, the fleet's
/// heartbeat, the route and policy files' reloaders and the admin server, in one service group.
package struct EdgeRouterService: LaunchableService {
    package static let identity = ServiceIdentity(
        commandName: "edge-router", logLabel: "gatehouse.edge",
        abstract: "Gatehouse edge router: verifies bearer tokens, decides rate limits, serves from its cache, forwards misses to the data service or a route's HTTP API.",
        discussion: "Configuration: docs/configuration.md. SIGTERM/SIGINT drain requests in flight and shut down."
    )
    package static let durationBuckets = EdgeMetrics.durationBuckets

    package let serviceGroup: ServiceGroup
    package let adminServer: AdminServer
    private let routeCount: Int
    private let authEvents: AuthEventApplier
    private let verifier: AccessTokenVerifier
    private let boundHTTPPort: BoundPort
    private let logger: Logger

    package static func make(
        setup: EdgeRouterSetup, registry: PrometheusCollectorRegistry, signals: ServiceSignals, logger: Logger
    ) async throws -> EdgeRouterService {
        let (configuration, files) = (setup.configuration, setup.files)
        let (routes, policies) = (files.inForce.routes, files.inForce.policies)
        let limiterClient = RPCClient(configuration: configuration.limiter, logger: Logger(label: "gatehouse.edge.limiter"))
        let dataClient = RPCClient(configuration: configuration.data, logger: Logger(label: "gatehouse.edge.data"))
        let authClient = RPCClient(configuration: configuration.authRPC, logger: Logger(label: "gatehouse.edge.auth"))
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: configuration.issuer, audience: configuration.audience, leeway: configuration.leeway, revocations: revocations)
        let fetcher = try JWKSFetcher(url: configuration.jwksURL)
        let revocationState = RevocationStateFetcher(client: AuthClient(rpc: authClient), maximumFrameBytes: configuration.authRPC.maximumFrameBytes)
        let authEvents = AuthEventApplier(
            revocations: revocations, verifier: verifier, fetchKeys: { try await fetcher.fetch() },
            fetchRevocations: { try await revocationState.fetch() }, logger: logger
        )
        let cache = ResponseCache(maxBytes: configuration.cacheMaxBytes)
        let invalidations = InvalidationApplier(cache: cache)
        let memberID = FleetMembership.processMemberID()
        let events = EdgeEventSubscriber(
            redis: configuration.redis, invalidations: invalidations,
            pathInvalidations: PathInvalidationApplier(cache: cache, origin: memberID), authEvents: authEvents,
            invalidationsChannel: configuration.invalidationsChannel, pathInvalidationsChannel: configuration.pathInvalidationsChannel,
            revocationsChannel: configuration.authEventChannels.revocations, keysChannel: configuration.authEventChannels.keys, logger: Logger(label: "gatehouse.edge.events")
        )
        // Its own Redis connection for the fleet's heartbeat and the path invalidations it publishes (the
        // subscription's connection only listens).
        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.edge.redis"))
        let fleet = FleetMembership(client: redis, role: .edge, memberID: memberID, logger: logger)
        let pathInvalidations = PathInvalidationPublisher(
            redis: redis, channel: configuration.pathInvalidationsChannel, origin: memberID, logger: Logger(label: "gatehouse.edge.events")
        )
        let rateLimiter = EdgeRateLimiter(
            limiter: LimiterClient(rpc: limiterClient, callCounters: EdgeMetrics.limiterCallCounters, logger: logger), policies: policies, apiKeyHeader: configuration.apiKeyHeader, fleet: fleet, logger: logger
        )
        let accessLogger = Logger(label: "gatehouse.edge.access")
        let handler = EdgeGateway(
            routes: routes, verifier: verifier, authEvents: authEvents, limiter: rateLimiter, failurePolicy: configuration.failurePolicy,
            upstream: DataServiceUpstream(data: DataClient(rpc: dataClient), logger: accessLogger), cache: cache, pathInvalidations: pathInvalidations, logger: accessLogger
        )
        // Each file is reloaded on its own, and only ever put in force with a file of the other kind it agrees with.
        let apply: @Sendable (EdgePolicyFiles.InForce) -> Void = { pair in
            rateLimiter.replacePolicies(pair.policies)
            handler.replaceRoutes(pair.routes)
        }
        let routeReloader = FileReloader(
            path: configuration.routesFile,
            naming: FileReloader.Naming(service: "edge", entry: "route", entries: "routes"),
            inForce: routes.routes.count, watchInterval: configuration.routesWatchInterval, hangups: await signals.hangups(), logger: logger
        ) { _ in
            try files.reloadRoutes(apply: apply).routes.routes.count
        }
        let policyReloader = FileReloader(
            path: configuration.policiesFile,
            naming: FileReloader.Naming(service: "edge", entry: "policy", entries: "policies"),
            inForce: policies.policies.count, watchInterval: configuration.policiesWatchInterval,
            // Its own SIGHUP sequence: each sequence hands a signal to one reader.
            hangups: await signals.hangups(), logger: logger
        ) { _ in
            try files.reloadPolicies(apply: apply).policies.policies.count
        }
        let reloaders = [routeReloader, policyReloader]
        let httpPort = BoundPort()
        let http = EdgeHTTPServer(handler: handler, http: configuration.http, logger: Logger(label: "gatehouse.edge.http")) {
            httpPort.announce($0)
        }
        let admin = AdminServer(
            observability: configuration.observability, registry: registry,
            readinessChecks: [ReadinessCheck(name: "signing_keys") { !verifier.keyIDs.isEmpty }],
            endpoints: [PathInvalidationEndpoint(verifier: verifier, authEvents: authEvents, cache: cache, publisher: pathInvalidations).adminEndpoint],
            logger: Logger(label: "gatehouse.edge.admin")
        )
        // Reverse order on shutdown: HTTP drains first, the clients it uses stop last.
        let group = ServiceGroup(
            // The gate after the limiter's client: it returns the units it holds before that client stops.
            // The HTTP upstreams' health checks and idle connections stop once the server has drained.
            services: [redis, fleet, pathInvalidations, limiterClient, rateLimiter, dataClient, authClient, events] + reloaders + [handler.httpUpstreams, admin, http],
            gracefulShutdownSignals: signals.gracefulShutdown, logger: logger
        )
        return EdgeRouterService(
            serviceGroup: group, adminServer: admin, routeCount: routes.routes.count, authEvents: authEvents, verifier: verifier,
            boundHTTPPort: httpPort, logger: logger
        )
    }

    /// Loads the issuer's keys and revocations first (20 attempts, 250 ms apart), so that the line's key
    /// count is what the first requests meet.
    package func logListening() async throws {
        // Keys and revocations before the first request if the issuer answers; else as soon as it does.
        for attempt in 1...20 {
            if (try? await self.authEvents.synchronize()) != nil { break }
            if attempt == 20 { self.logger.warning("the issuer did not answer; tokens are refused until its keys load (retried every 2 s)") }
            try await Task.sleep(for: .milliseconds(250))
        }
        let httpPort = try await self.httpPort()
        let adminPort = try await self.adminPort()
        self.logger.notice(
            "edge router listening",
            metadata: [
                "http.port": "\(httpPort)", "admin.port": "\(adminPort)", "routes": "\(self.routeCount)",
                "keys": "\(self.verifier.keyIDs.count)",
            ]
        )
    }

    /// The public HTTP server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    package func httpPort() async throws -> Int {
        try await self.boundHTTPPort.value()
    }
}
