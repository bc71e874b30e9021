import Foundation
import GatehouseTestSupport
import Testing

let systemSecret = "system-test-secret-0123456789ab"
let systemAdminPassword = "system-admin-password"

/// The whole system as real processes on free loopback ports: Redis, the limiter (the repository's
/// config/policies.yaml), the data service (seeded), the auth issuer and one or more edge routers (the
/// repository's config/routes.yaml and config/policies.yaml). Stopped by PID when released.
final class GatehouseSystem: Sendable {
    let folder: TestFolder
    let redis: RedisServerProcess
    let limiter: ServiceProcess
    let data: ServiceProcess
    let auth: ServiceProcess
    let edges: [ServiceProcess]
    let edgePorts: [Int]
    let edgeAdminPorts: [Int]
    let authHTTPPort: Int
    let dataRPCPort: Int
    let dataAdminPort: Int
    let authEnvironment: [String: String]
    /// The auth issuer's RPC port (for an issuer restarted where the edges expect it).
    let authRPCPort: Int
    /// What every edge router is started with.
    let edgeEnvironment: [String: String]
    /// What every limiter is started with.
    let limiterEnvironment: [String: String]
    /// The first limiter's RPC port.
    let limiterPort: Int

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts the system.
    /// - Parameters:
    ///   - count: Edge routers to start.
    ///   - documents: Documents to seed.
    ///   - edgeEnvironment: Added to every edge's environment.
    ///   - limiterEnvironment: Added to every limiter's environment.
    ///   - policies: The policy file's text for the limiters and edges; the repository's config/policies.yaml by default.
    ///   - routes: The route file's text for the edges; the repository's config/routes.yaml by default.
    init(
        edges count: Int = 1, documents: Int = 20, edgeEnvironment: [String: String] = [:], limiterEnvironment: [String: String] = [:],
        policies: String? = nil, routes: String? = nil
    ) async throws {
        self.folder = try TestFolder()
        let folder = self.folder
        self.redis = try await RedisServerProcess.start()
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
            "LIMITER_POLICIES_FILE": policiesPath, "LIMITER_LOG_FORMAT": "json",
        ].merging(limiterEnvironment) { $1 }
        let limiter = try await Self.launchLimiter(environment: self.limiterEnvironment, folder: folder, name: "limiter")
        self.limiter = limiter.process
        let limiterPort = limiter.port
        self.limiterPort = limiterPort
        let dataEnvironment = [
            "DATA_RPC_SECRET": systemSecret, "DATA_RPC_PORT": "0", "DATA_ADMIN_PORT": "0", "DATA_REDIS_PORT": "\(redisPort)",
            "DATA_STORAGE_PATH": folder.path("data/documents.sqlite"), "DATA_LOG_FORMAT": "json", "DATA_REDIS_CONNECT_TIMEOUT_MS": "200",
        ]
        let seed = try ServiceProcess.start(product: "data-service", arguments: ["seed", "--count", "\(documents)"], environment: dataEnvironment, logPath: folder.path("seed.log"))
        #expect(try await seed.waitForExit(timeout: .seconds(30)) == .exited(0))
        self.data = try ServiceProcess.start(product: "data-service", environment: dataEnvironment, logPath: folder.path("data.log"))
        let dataListening = try await self.data.waitForLog(message: "data service listening")
        self.dataRPCPort = try #require(Int(dataListening["rpc.port"] as? String ?? ""))
        self.dataAdminPort = try #require(Int(dataListening["admin.port"] as? String ?? ""))
        // The seed's invalidation events go out when the service starts; let them pass before anything is cached.
        let seeded = ContinuousClock.now
        while (prometheusSample(try httpGet(port: self.dataAdminPort, path: "/metrics").body, "gatehouse_data_events_published_total") ?? 0) < Double(documents),
            ContinuousClock.now - seeded < .seconds(10)
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        // The issuer's HTTP port is chosen here, since its issuer URL names it; another test may take the port
        // before the issuer binds it, and then the issuer exits at start and another port is tried.
        var attempt = 1
        var started: (process: ServiceProcess, httpPort: Int, environment: [String: String], rpcPort: Int)?
        while started == nil {
            let authHTTP = try freeLoopbackPort()
            let authEnvironment = [
                "AUTH_RPC_SECRET": systemSecret, "AUTH_RPC_PORT": "0", "AUTH_ADMIN_PORT": "0", "AUTH_HTTP_PORT": "\(authHTTP)",
                "AUTH_REDIS_PORT": "\(redisPort)", "AUTH_LIMITER_PORT": "\(limiterPort)", "AUTH_STORAGE_PATH": folder.path("auth/auth.sqlite"),
                "AUTH_LOG_FORMAT": "json", "AUTH_PASSWORDS_BCRYPT_COST": "4", "AUTH_TOKENS_ISSUER": "http://127.0.0.1:\(authHTTP)",
                "AUTH_EVENTS_POLL_INTERVAL_MS": "50", "AUTH_BOOTSTRAP_ADMIN_PASSWORD": systemAdminPassword,
            ]
            let auth = try ServiceProcess.start(product: "auth-issuer", environment: authEnvironment, logPath: folder.path("auth.log"))
            do {
                let listening = try await auth.waitForLog(message: "auth issuer listening")
                started = (auth, authHTTP, authEnvironment, try #require(Int(listening["rpc.port"] as? String ?? "")))
            } catch where attempt < 5 && auth.exitStatus != nil && auth.logTail.contains("Address already in use") {
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

    /// Starts one more limiter configured like the first (but for `environment`) and waits until it listens;
    /// the caller stops it.
    func startLimiter(name: String, environment: [String: String] = [:]) async throws -> (process: ServiceProcess, port: Int) {
        try await Self.launchLimiter(environment: self.limiterEnvironment.merging(environment) { $1 }, folder: self.folder, name: name)
    }

    private static func launchLimiter(environment: [String: String], folder: TestFolder, name: String) async throws -> (process: ServiceProcess, port: Int) {
        let limiter = try ServiceProcess.start(product: "limiter", environment: environment, logPath: folder.path("\(name).log"))
        return (limiter, try #require(Int(try await limiter.waitForLog(message: "limiter listening")["rpc.port"] as? String ?? "")))
    }

    private static func launchEdge(environment: [String: String], folder: TestFolder, name: String) async throws -> (process: ServiceProcess, port: Int, adminPort: Int) {
        let edge = try ServiceProcess.start(product: "edge-router", environment: environment, logPath: folder.path("\(name).log"))
        let listening = try await edge.waitForLog(message: "edge router listening")
        return (edge, try #require(Int(listening["http.port"] as? String ?? "")), try #require(Int(listening["admin.port"] as? String ?? "")))
    }

    deinit {
        for edge in self.edges { edge.stop() }
        self.auth.stop()
        self.data.stop()
        self.limiter.stop()
        self.redis.stop()
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
    func adminToken() throws -> String {
        try self.token(user: "admin", password: systemAdminPassword)
    }

    /// A password-grant token.
    func token(user: String, password: String) throws -> String {
        let body = "grant_type=password&username=\(user)&password=\(password)"
        let response = try httpRequest(port: self.authHTTPPort, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8))
        return try #require((try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["access_token"] as? String)
    }

    /// A request to edge `index`.
    func edge(_ index: Int = 0, _ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [], body: String? = nil, from address: String? = nil) throws -> HTTPProbeResponse {
        var fields = headers
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        if body != nil { fields.append(("Content-Type", "application/json")) }
        return try httpRequest(port: self.edgePorts[index], method: method, path: path, headers: fields, body: body.map { Array($0.utf8) })
    }

    /// An edge's `/metrics`.
    func edgeMetrics(_ index: Int = 0) throws -> String {
        try httpGet(port: self.edgeAdminPorts[index], path: "/metrics").body
    }
}

/// The system suites run one at a time: each starts six or more processes.
@Suite(.serialized)
enum GatehouseSystemTests {}
