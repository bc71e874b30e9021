import EdgeRouterCore
import Foundation
import GatehouseObservability
import GatehouseTestSupport
import Testing

/// The edge router wired by `EdgeRouterService.make` as the executable wires it, run in process on port 0,
/// with the repository's route and policy files and no upstream service running.
@Suite struct EdgeRouterServiceWiringTests {
    @Test func answersOverHTTPWithoutItsUpstreamsAndShutsDownGracefully() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let config = TestEnvironment.packageRoot.appendingPathComponent("config")
        let yaml = """
            http: {port: 0}
            admin: {port: 0}
            rpc: {secret: edge-wiring-secret-0123456789}
            redis: {port: \(redis.port)}
            limiter: {port: \(try freeLoopbackPort())}
            data: {port: \(try freeLoopbackPort())}
            auth: {port: \(try freeLoopbackPort()), jwks_url: "http://127.0.0.1:\(try freeLoopbackPort())/.well-known/jwks.json"}
            routes: {file: \(config.appendingPathComponent("routes.yaml").path)}
            policies: {file: \(config.appendingPathComponent("policies.yaml").path)}
            """
        // A connection left open: a port number may be reused by another test at once, an accepted
        // connection is this server's alone.
        var connection: RawTCPConnection?
        try await withInProcessService(EdgeRouterService.self, yaml: yaml) { edge in
            let httpPort = try await edge.httpPort()
            let unknown = try await httpGetOffPool(port: httpPort, path: "/nowhere")
            #expect(unknown.status == 404, "\(unknown.body)")
            let adminPort = try await edge.adminPort()
            #expect(try await httpGetOffPool(port: adminPort, path: "/healthz").status == 200)
            let ready = try await httpGetOffPool(port: adminPort, path: "/readyz")
            #expect(ready.status == 503, "not ready before the issuer's signing keys load: \(ready.body)")
            connection = try RawTCPConnection(port: httpPort)
        }
        #expect(connection?.waitForClose(timeout: .seconds(5)) != nil, "the HTTP server closed its connections on shutdown")
    }
}
