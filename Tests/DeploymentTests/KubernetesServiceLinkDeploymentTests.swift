import Foundation
import GatehouseTestSupport
import Testing

/// Every service starts and works in a Kubernetes namespace whose Services are named after them: their
/// service-link variables (`LIMITER_PORT=tcp://…`, `LIMITER_REDIS_PORT=tcp://…`, …) are in every process's
/// environment, next to the service's own configuration (here a file, as a ConfigMap would mount it).
///
/// Out of process: the point is each executable reading its process environment.
@Suite(.timeLimit(.minutes(3)))
struct KubernetesServiceLinkDeploymentTests {
    static let secret = "service-link-test-secret-0123456789"
    static let links = KubernetesServiceLinkEnvironment.gatehouseNamespace

    /// Starts a service with `config` as its file and the namespace's links plus `environment`, and waits
    /// until it logs `listening`.
    static func start(
        _ product: String, config: String, environment: [String: String], listening: String, folder: TestFolder
    ) async throws -> (process: ServiceProcess, line: [String: Any]) {
        try folder.write("\(product).yaml", config)
        let process = try ServiceProcess.start(
            product: product, arguments: ["--config", folder.path("\(product).yaml")], environment: Self.links.merging(environment) { $1 },
            logPath: folder.path("\(product).log")
        )
        return (process, try await process.waitForLog(message: listening))
    }

    static func port(_ line: [String: Any], _ field: String) throws -> Int {
        try #require(Int(line[field] as? String ?? ""), "\(line)")
    }

    @Test func everyServiceStartsAndAnswersWithTheNamespacesServiceLinks() async throws {
        #expect(Self.links["LIMITER_REDIS_PORT"] == "tcp://10.96.0.17:6379", "the link that lands on the limiter's redis.port")
        #expect(Self.links["EDGE_PORT"] != nil && Self.links["DATA_SERVICE_PORT"] != nil && Self.links["AUTH_ISSUER_SERVICE_HOST"] != nil)
        let folder = try TestFolder()
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let common = "rpc: {port: 0}\nadmin: {port: 0}\nredis: {port: \(redis.port)}\nlog: {format: json, level: debug}\n"
        let repository = TestEnvironment.packageRoot

        let (limiter, limiterListening) = try await Self.start(
            "limiter", config: common + "policies: {file: \(repository.appendingPathComponent("config/policies.yaml").path)}\n",
            environment: ["LIMITER_RPC_SECRET": Self.secret], listening: "limiter listening", folder: folder
        )
        defer { limiter.stop() }
        let limiterPort = try Self.port(limiterListening, "rpc.port")
        // Redis answers the limiter on the port of its file, not the link's address.
        #expect(try httpGet(port: Self.port(limiterListening, "admin.port"), path: "/readyz").status == 200, "\(limiter.logTail)")
        let warning = try await limiter.waitForLog(
            message: "environment variable LIMITER_REDIS_PORT=tcp://10.96.0.17:6379 is a Kubernetes service link (of a Service named like the variable), "
                + "not a port: ignored, so 'redis.port' keeps its value from the file or its default. Set enableServiceLinks: false in the pod, "
                + "or rename that Service, to silence this"
        )
        #expect(warning["level"] as? String == "warning")
        _ = try await limiter.waitForLog(message: "environment variable LIMITER_SERVICE_HOST is a Kubernetes service link, not a configuration key: ignored")

        let (data, dataListening) = try await Self.start(
            "data-service", config: common + "storage: {path: \(folder.path("data/documents.sqlite"))}\n",
            environment: ["DATA_RPC_SECRET": Self.secret], listening: "data service listening", folder: folder
        )
        defer { data.stop() }
        #expect(try httpGet(port: Self.port(dataListening, "admin.port"), path: "/readyz").status == 200, "\(data.logTail)")

        let authHTTP = try freeLoopbackPort()
        let (auth, authListening) = try await Self.start(
            "auth-issuer",
            config: common + """
                http: {port: \(authHTTP)}
                limiter: {port: \(limiterPort)}
                storage: {path: \(folder.path("auth/auth.sqlite"))}
                tokens: {issuer: "http://127.0.0.1:\(authHTTP)"}
                passwords: {bcrypt_cost: 4}

                """,
            environment: ["AUTH_RPC_SECRET": Self.secret, "AUTH_BOOTSTRAP_ADMIN_PASSWORD": "service-link-admin-password"],
            listening: "auth issuer listening", folder: folder
        )
        defer { auth.stop() }
        #expect(try httpGet(port: Self.port(authListening, "admin.port"), path: "/readyz").status == 200, "\(auth.logTail)")
        let tokenResponse = try httpRequest(
            port: authHTTP, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array("grant_type=password&username=admin&password=service-link-admin-password".utf8)
        )
        #expect(tokenResponse.status == 200, "\(tokenResponse.body)")
        let token = try #require((try JSONSerialization.jsonObject(with: Data(tokenResponse.body.utf8)) as? [String: Any])?["access_token"] as? String)

        let (edge, edgeListening) = try await Self.start(
            "edge-router",
            config: common.replacingOccurrences(of: "rpc: {port: 0}\n", with: "") + """
                http: {port: 0}
                limiter: {port: \(limiterPort)}
                data: {port: \(try Self.port(dataListening, "rpc.port"))}
                auth: {port: \(try Self.port(authListening, "rpc.port")), jwks_url: "http://127.0.0.1:\(authHTTP)/.well-known/jwks.json", issuer: "http://127.0.0.1:\(authHTTP)"}
                routes: {file: \(repository.appendingPathComponent("config/routes.yaml").path)}
                policies: {file: \(repository.appendingPathComponent("config/policies.yaml").path)}

                """,
            environment: ["EDGE_RPC_SECRET": Self.secret], listening: "edge router listening", folder: folder
        )
        defer { edge.stop() }
        #expect(try httpGet(port: Self.port(edgeListening, "admin.port"), path: "/readyz").status == 200, "\(edge.logTail)")
        let page = try httpRequest(port: Self.port(edgeListening, "http.port"), method: "GET", path: "/v1/articles", headers: [("Authorization", "Bearer \(token)")])
        #expect(page.status == 200, "\(page.body)")
        #expect(page.headers["ratelimit-policy"] == #""admin";q=1000;w=60"#, "the limiter decided: \(page.headers)")
    }
}
