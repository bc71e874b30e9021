import AuthIssuerCore
import DataServiceCore
import Foundation
import GatehouseDataAPI
import GatehouseEvents
import GatehouseObservability
import GatehouseTestSupport
import LimiterCore
import Testing

let systemSecret = "system-test-secret-0123456789ab"
let systemAdminPassword = "system-admin-password"

/// The whole system on free loopback ports: a real Redis process; the limiter (the repository's
/// config/policies.yaml), the data service (seeded by its `seed` command) and the auth issuer wired as their
/// executables wire them but running inside the test process (``InProcessService``); and one or more edge
/// routers (the repository's config/routes.yaml and config/policies.yaml) as child processes, because the
/// tests read each edge's own `/metrics` and log, send it `SIGTERM` and check its exit status: metrics are
/// process-wide, so edges in one process would share them. Built and stopped by ``run(edges:documents:edgeEnvironment:limiterEnvironment:policies:routes:_:)``.
final class GatehouseSystem: Sendable {
    let folder: TestFolder
    let redis: RedisServerProcess
    let limiter: InProcessService<LimiterService>
    let data: InProcessService<DataService>
    let auth: InProcessService<AuthIssuerService>
    let edges: [ServiceProcess]
    let edgePorts: [Int]
    let edgeAdminPorts: [Int]
    let authHTTPPort: Int
    let dataRPCPort: Int
    /// What the issuer is started with, and its CLI (`auth-issuer users add`) run with.
    let authEnvironment: [String: String]
    /// The auth issuer's RPC port (for an issuer restarted where the edges expect it).
    let authRPCPort: Int
    /// What every edge router is started with.
    let edgeEnvironment: [String: String]
    /// What every limiter is started with.
    let limiterEnvironment: [String: String]
    /// The first limiter's RPC port.
    let limiterPort: Int
    private let services: InProcessServices

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts the system, runs `body` with it, then stops it (also when `body` throws): the edges with
    /// `SIGTERM`, the in-process services gracefully, newest first, Redis last.
    /// - Parameters:
    ///   - count: Edge routers to start.
    ///   - documents: Documents to seed.
    ///   - edgeEnvironment: Added to every edge's environment.
    ///   - limiterEnvironment: Added to every limiter's environment.
    ///   - policies: The policy file's text for the limiters and edges; the repository's config/policies.yaml by default.
    ///   - routes: The route file's text for the edges; the repository's config/routes.yaml by default.
    ///   - body: The test.
    static func run(
        edges count: Int = 1, documents: Int = 20, edgeEnvironment: [String: String] = [:], limiterEnvironment: [String: String] = [:],
        policies: String? = nil, routes: String? = nil, _ body: (GatehouseSystem) async throws -> Void
    ) async throws {
        let redis = try await RedisServerProcess.start()
        let services = InProcessServices()
        do {
            let system = try await GatehouseSystem(
                redis: redis, services: services, edges: count, documents: documents, edgeEnvironment: edgeEnvironment,
                limiterEnvironment: limiterEnvironment, policies: policies, routes: routes
            )
            defer { for edge in system.edges { edge.stop() } }
            try await body(system)
        } catch {
            try? await services.stopAll()
            redis.stop()
            throw error
        }
        try await services.stopAll()
        redis.stop()
    }

    private init(
        redis: RedisServerProcess, services: InProcessServices, edges count: Int, documents: Int, edgeEnvironment: [String: String],
        limiterEnvironment: [String: String], policies: String?, routes: String?
    ) async throws {
        self.folder = try TestFolder()
        let folder = self.folder
        self.redis = redis
        self.services = services
        let redisPort = self.redis.port
        var policiesPath = Self.repository.appendingPathComponent("config/policies.yaml").path
        if let policies {
            try folder.write("policies.yaml", policies)
            policiesPath = folder.path("policies.yaml")
        }
        var routesPath = Self.repository.appendingPathComponent("config/routes.yaml").path
        if let routes {
            try folder.write("routes.yaml", routes)
            routesPath = folder.path("routes.yaml")
        }
        self.limiterEnvironment = [
            "LIMITER_RPC_SECRET": systemSecret, "LIMITER_RPC_PORT": "0", "LIMITER_ADMIN_PORT": "0", "LIMITER_REDIS_PORT": "\(redisPort)",
            "LIMITER_POLICIES_FILE": policiesPath,
        ].merging(limiterEnvironment) { $1 }
        let limiter = try await services.start(LimiterService.self, environment: self.limiterEnvironment)
        self.limiter = limiter
        let limiterPort = try await limiter.port { try await $0.rpcPort() }
        self.limiterPort = limiterPort
        let dataEnvironment = [
            "DATA_RPC_SECRET": systemSecret, "DATA_RPC_PORT": "0", "DATA_ADMIN_PORT": "0", "DATA_REDIS_PORT": "\(redisPort)",
            "DATA_STORAGE_PATH": folder.path("data/documents.sqlite"), "DATA_REDIS_CONNECT_TIMEOUT_MS": "200",
        ]
        let seed = try ServiceProcess.start(product: "data-service", arguments: ["seed", "--count", "\(documents)"], environment: dataEnvironment, logPath: folder.path("seed.log"))
        #expect(try await seed.waitForExit(timeout: .seconds(30)) == .exited(0))
        // The seed's invalidation events go out when the service starts; let them pass before anything is cached.
        let invalidations = RedisChannelCollector(redisPort: redisPort, channel: InvalidationMessage.defaultChannel)
        self.data = try await invalidations.whileSubscribed {
            let data = try await services.start(DataService.self, environment: dataEnvironment)
            try await invalidations.waitUntil(timeout: .seconds(10)) { messages in
                messages.reduce(0) { $0 + ((try? InvalidationMessage(jsonText: $1))?.events.count ?? 0) } >= documents
            }
            return data
        }
        self.dataRPCPort = try await self.data.port { try await $0.rpcPort() }
        // The issuer's HTTP port is chosen here, since its issuer URL names it; another test may take the port
        // before the issuer binds it, and then the issuer stops at start and another port is tried.
        var attempt = 1
        var started: (issuer: InProcessService<AuthIssuerService>, httpPort: Int, environment: [String: String], rpcPort: Int)?
        while started == nil {
            let authHTTP = try freeLoopbackPort()
            let authEnvironment = [
                "AUTH_RPC_SECRET": systemSecret, "AUTH_RPC_PORT": "0", "AUTH_ADMIN_PORT": "0", "AUTH_HTTP_PORT": "\(authHTTP)",
                "AUTH_REDIS_PORT": "\(redisPort)", "AUTH_LIMITER_PORT": "\(limiterPort)", "AUTH_STORAGE_PATH": folder.path("auth/auth.sqlite"),
                "AUTH_PASSWORDS_BCRYPT_COST": "4", "AUTH_TOKENS_ISSUER": "http://127.0.0.1:\(authHTTP)",
                "AUTH_EVENTS_POLL_INTERVAL_MS": "50", "AUTH_BOOTSTRAP_ADMIN_PASSWORD": systemAdminPassword,
            ]
            let issuer = try await services.start(AuthIssuerService.self, environment: authEnvironment)
            do {
                _ = try await issuer.port { try await $0.httpPort() }
                started = (issuer, authHTTP, authEnvironment, try await issuer.port { try await $0.rpcPort() })
            } catch where attempt < 5 && "\(error)".contains("Address already in use") {
                attempt += 1
            }
        }
        let (auth, authHTTP, authEnvironment, authRPC) = try #require(started)
        self.auth = auth
        self.authHTTPPort = authHTTP
        self.authEnvironment = authEnvironment
        self.authRPCPort = authRPC
        self.edgeEnvironment = [
            "EDGE_RPC_SECRET": systemSecret, "EDGE_HTTP_PORT": "0", "EDGE_ADMIN_PORT": "0", "EDGE_REDIS_PORT": "\(redisPort)",
            "EDGE_LIMITER_PORT": "\(limiterPort)", "EDGE_DATA_PORT": "\(self.dataRPCPort)", "EDGE_AUTH_PORT": "\(authRPC)",
            "EDGE_AUTH_JWKS_URL": "http://127.0.0.1:\(authHTTP)/.well-known/jwks.json", "EDGE_AUTH_ISSUER": "http://127.0.0.1:\(authHTTP)",
            "EDGE_ROUTES_FILE": routesPath, "EDGE_LOG_FORMAT": "json", "EDGE_POLICIES_FILE": policiesPath,
        ].merging(edgeEnvironment) { $1 }
        var edges: [ServiceProcess] = []
        var ports: [Int] = []
        var adminPorts: [Int] = []
        for index in 0..<count {
            let edge = try await Self.launchEdge(environment: self.edgeEnvironment, folder: folder, name: "edge-\(index)")
            edges.append(edge.process)
            ports.append(edge.port)
            adminPorts.append(edge.adminPort)
        }
        self.edges = edges
        self.edgePorts = ports
        self.edgeAdminPorts = adminPorts
    }

    /// Starts one more edge router configured like the others (but for `environment`) and waits until it
    /// listens; the caller stops it.
    func startEdge(name: String, environment: [String: String] = [:]) async throws -> (process: ServiceProcess, port: Int, adminPort: Int) {
        try await Self.launchEdge(environment: self.edgeEnvironment.merging(environment) { $1 }, folder: self.folder, name: name)
    }

    /// Starts a limiter configured like the first (but for `environment`) as a child process and waits until
    /// it listens; the caller stops it. For a limiter under load (its own share of the CPU, not the test
    /// process's few cooperative threads) or one killed as a crash is.
    func startLimiterProcess(name: String, environment: [String: String] = [:]) async throws -> (process: ServiceProcess, port: Int) {
        let limiter = try ServiceProcess.start(
            product: "limiter", environment: self.limiterEnvironment.merging(["LIMITER_LOG_FORMAT": "json"]) { $1 }.merging(environment) { $1 },
            logPath: self.folder.path("\(name).log")
        )
        return (limiter, try #require(Int(try await limiter.waitForLog(message: "limiter listening")["rpc.port"] as? String ?? "")))
    }

    /// Starts one more auth issuer configured like the first (but for `environment`), in process, and waits
    /// until its ports are bound; the system stops it with the others.
    func startIssuer(environment: [String: String] = [:]) async throws -> InProcessService<AuthIssuerService> {
        let issuer = try await self.services.start(AuthIssuerService.self, environment: self.authEnvironment.merging(environment) { $1 })
        _ = try await issuer.port { try await $0.rpcPort() }
        _ = try await issuer.port { try await $0.httpPort() }
        return issuer
    }

    private static func launchEdge(environment: [String: String], folder: TestFolder, name: String) async throws -> (process: ServiceProcess, port: Int, adminPort: Int) {
        let edge = try ServiceProcess.start(product: "edge-router", environment: environment, logPath: folder.path("\(name).log"))
        let listening = try await edge.waitForLog(message: "edge router listening")
        return (edge, try #require(Int(listening["http.port"] as? String ?? "")), try #require(Int(listening["admin.port"] as? String ?? "")))
    }

    /// Adds a user with the issuer's CLI.
    func addUser(_ name: String, password: String, roles: String = "user") async throws {
        let command = try ServiceProcess.start(
            product: "auth-issuer", arguments: ["users", "add", name, "--roles", roles, "--password-env", "NEW_PASSWORD"],
            environment: self.authEnvironment.merging(["NEW_PASSWORD": password]) { $1 }, logPath: self.folder.path("cli-\(name).log")
        )
        #expect(try await command.waitForExit(timeout: .seconds(30)) == .exited(0), "\(command.log)")
    }

    /// A password-grant token for the bootstrapped admin.
    func adminToken() async throws -> String {
        try await self.token(user: "admin", password: systemAdminPassword)
    }

    /// A password-grant token.
    func token(user: String, password: String) async throws -> String {
        let response = try await self.issuer("POST", "/oauth/token", body: "grant_type=password&username=\(user)&password=\(password)")
        return try #require((try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["access_token"] as? String)
    }

    /// A form `POST` (or other request) to the issuer's HTTP port, sent off the cooperative threads the
    /// in-process issuer answers on.
    func issuer(_ method: String, _ path: String, body: String) async throws -> HTTPProbeResponse {
        try await httpRequestOffPool(
            port: self.authHTTPPort, method: method, path: path, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8)
        )
    }

    /// A request to edge `index`, sent off the cooperative threads: the edge asks the in-process services
    /// before it answers.
    func edge(_ index: Int = 0, _ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [], body: String? = nil) async throws -> HTTPProbeResponse {
        var fields = headers
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        if body != nil { fields.append(("Content-Type", "application/json")) }
        return try await httpRequestOffPool(port: self.edgePorts[index], method: method, path: path, headers: fields, body: body.map { Array($0.utf8) })
    }

    /// An edge's `/metrics`.
    func edgeMetrics(_ index: Int = 0) throws -> String {
        try httpGet(port: self.edgeAdminPorts[index], path: "/metrics").body
    }
}

/// The system suites run in three chains, each one test at a time: a system starts Redis, three services in
/// process and one or more edge processes, and the services in process share the test process's few
/// cooperative threads, so systems without bound beside the rest of the run on a loaded 2-core machine made
/// them answer after the edges' call timeouts (a data read refused, a fallback deciding). A serialized chain
/// gets its turns late, after most other tests, so the run lasts about as long as the rest of it plus its
/// longest chain: three chains of about equal length share that tail.
///
/// This chain: the gateway's features (tokens, limits, cache, conditional requests, policy keys, the
/// OpenAPI description, coherence of HTTP upstreams).
@Suite(.serialized)
enum GatehouseSystemTests {}

/// The second chain of system suites (``GatehouseSystemTests``): the edge's HTTP connections and their
/// bounds, megabyte pages, HTTP upstreams.
@Suite(.serialized)
enum GatehouseHTTPSystemTests {}

/// The third chain of system suites (``GatehouseSystemTests``): rate limits decided from leases, under load.
@Suite(.serialized)
enum GatehouseLoadSystemTests {}
