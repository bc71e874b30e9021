import ArgumentParser
import EdgeRouterCore
import Foundation
import GatehouseConfig
import GatehouseFleet
import GatehouseLimiterPolicies
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis
import Logging
import ServiceLifecycle
import UnixSignals

/// `edge-router`: the public front door; verify, limit, cache, forward.
@main
struct EdgeRouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-router",
        abstract: "Gatehouse edge router: verifies bearer tokens, asks the limiter, serves from its cache, forwards misses to the data service.",
        discussion: "Configuration: docs/configuration.md. SIGTERM/SIGINT drain requests in flight and shut down."
    )

    @Option(name: .long, help: "YAML configuration file; EDGE_* environment variables override it.")
    var config: String?

    @Flag(name: .customLong("check-config"), help: "Check the configuration (file, variables and the files it names), print 'configuration ok' or each problem, and exit without listening.")
    var checkConfig = false

    func run() async throws {
        let configuration: EdgeConfiguration
        let files: EdgePolicyFiles
        let notices: [ConfigNotice]
        do {
            var document = try ConfigDocument.load(path: self.config, environment: ProcessInfo.processInfo.environment, prefix: EdgeConfiguration.environmentPrefix)
            configuration = try EdgeConfiguration(reading: &document)
            notices = document.notices
            files = try EdgePolicyFiles(
                routesFile: configuration.routesFile, policiesFile: configuration.policiesFile, failurePolicy: configuration.failurePolicy,
                apiKeyHeader: configuration.apiKeyHeader
            )
            _ = try JWKSFetcher(url: configuration.jwksURL)
        } catch {
            FileHandle.standardError.write(Data("edge-router: cannot start:\n\(error)\n".utf8))
            throw ExitCode(78)
        }
        let (routes, policies) = (files.inForce.routes, files.inForce.policies)
        if self.checkConfig {
            for notice in notices where notice.severity == .warning { print("edge-router: warning: \(notice)") }
            print("edge-router: configuration ok (\(routes.routes.count) routes, \(policies.policies.count) policies)")
            return
        }
        LoggingBootstrap.bootstrap(format: configuration.observability.logFormat, level: configuration.observability.logLevel)
        let registry = MetricsBootstrap.bootstrap(durationBuckets: EdgeMetrics.durationBuckets)
        let logger = Logger(label: "gatehouse.edge")
        logger.log(configNotices: notices)

        let limiterClient = RPCClient(configuration: configuration.limiter, logger: Logger(label: "gatehouse.edge.limiter"))
        let dataClient = RPCClient(configuration: configuration.data, logger: Logger(label: "gatehouse.edge.data"))
        let authClient = RPCClient(configuration: configuration.authRPC, logger: Logger(label: "gatehouse.edge.auth"))
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: configuration.issuer, audience: configuration.audience, leeway: configuration.leeway, revocations: revocations)
        let fetcher = try JWKSFetcher(url: configuration.jwksURL)
        let revocationState = RevocationStateFetcher(client: authClient, maximumFrameBytes: configuration.authRPC.maximumFrameBytes)
        let authEvents = AuthEventApplier(
            revocations: revocations, verifier: verifier, fetchKeys: { try await fetcher.fetch() },
            fetchRevocations: { try await revocationState.fetch() }, logger: logger
        )
        let cache = ResponseCache(maxBytes: configuration.cacheMaxBytes)
        let invalidations = InvalidationApplier(cache: cache)
        let events = EdgeEventSubscriber(
            redis: configuration.redis, invalidations: invalidations, authEvents: authEvents,
            invalidationsChannel: configuration.invalidationsChannel, revocationsChannel: configuration.revocationsChannel,
            keysChannel: configuration.keysChannel, logger: Logger(label: "gatehouse.edge.events")
        )
        // Its own Redis connection for the fleet's heartbeat (the subscription's connection only listens).
        let redis = RedisClient(configuration: configuration.redis, logger: Logger(label: "gatehouse.edge.redis"))
        let fleet = FleetMembership(client: redis, role: .edge, memberID: FleetMembership.processMemberID(), logger: logger)
        let rateLimiter = EdgeRateLimiter(
            limiter: limiterClient, policies: policies, apiKeyHeader: configuration.apiKeyHeader, fleet: fleet, logger: logger
        )
        let handler = EdgeRequestHandler(
            routes: routes, verifier: verifier, authEvents: authEvents, limiter: rateLimiter,
            failurePolicy: configuration.failurePolicy, data: dataClient, cache: cache, logger: Logger(label: "gatehouse.edge.access")
        )
        // Trapped before anything listens, so a SIGHUP can never kill the process or go unnoticed.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Each file is reloaded on its own, and only ever put in force with a file of the other kind it agrees with.
        let apply: @Sendable (EdgePolicyFiles.InForce) -> Void = { pair in
            rateLimiter.replacePolicies(pair.policies)
            handler.replaceRoutes(pair.routes)
        }
        let routeReloader = FileReloader(
            path: configuration.routesFile,
            naming: FileReloader.Naming(
                applied: "routes reloaded", rejected: "route file rejected; the previous routes stay in force",
                fileKey: "routes.file", countKey: "routes.count",
                reloadsMetric: "gatehouse_edge_route_reloads_total", countMetric: "gatehouse_edge_routes"
            ),
            inForce: routes.routes.count, watchInterval: configuration.routesWatchInterval, hangups: hangups, logger: logger
        ) { _ in
            try files.reloadRoutes(apply: apply).routes.routes.count
        }
        let policyReloader = FileReloader(
            path: configuration.policiesFile,
            naming: FileReloader.Naming(
                applied: "policies reloaded", rejected: "policy file rejected; the previous policies stay in force",
                fileKey: "policies.file", countKey: "policies.count",
                reloadsMetric: "gatehouse_edge_policy_reloads_total", countMetric: "gatehouse_edge_policies"
            ),
            inForce: policies.policies.count, watchInterval: configuration.policiesWatchInterval,
            // Its own SIGHUP sequence: each sequence hands a signal to one reader.
            hangups: await UnixSignalsSequence(trapping: .sighup), logger: logger
        ) { _ in
            try files.reloadPolicies(apply: apply).policies.policies.count
        }
        let reloaders = [routeReloader, policyReloader]
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))
        let http = EdgeHTTPServer(handler: handler, http: configuration.http, logger: Logger(label: "gatehouse.edge.http")) {
            portContinuation.yield($0)
        }
        let admin = AdminServer(
            host: configuration.observability.adminHost, port: configuration.observability.adminPort, registry: registry,
            readinessChecks: [ReadinessCheck(name: "signing_keys") { !verifier.keyIDs.isEmpty }],
            logger: Logger(label: "gatehouse.edge.admin")
        )
        // Reverse order on shutdown: HTTP drains first, the clients it uses stop last.
        let group = ServiceGroup(
            // The gate after the limiter's client: it returns the units it holds before that client stops.
            services: [redis, fleet, limiterClient, rateLimiter, dataClient, authClient, events] + reloaders + [admin, http],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        )
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            // Keys and revocations before the first request if the issuer answers; else as soon as it does.
            for attempt in 1...20 {
                if (try? await authEvents.synchronize()) != nil { break }
                if attempt == 20 { logger.warning("the issuer did not answer; tokens are refused until its keys load (retried every 2 s)") }
                try await Task.sleep(for: .milliseconds(250))
            }
            var iterator = ports.makeAsyncIterator()
            let httpPort = await iterator.next() ?? configuration.http.port
            let adminPort = try await admin.listeningPort()
            logger.notice(
                "edge router listening",
                metadata: ["http.port": "\(httpPort)", "admin.port": "\(adminPort)", "routes": "\(routes.routes.count)", "keys": "\(verifier.keyIDs.count)"]
            )
            try await tasks.waitForAll()
        }
    }
}
