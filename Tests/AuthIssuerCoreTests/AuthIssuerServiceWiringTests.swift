import AuthIssuerCore
import GatehouseObservability
import GatehouseTestSupport
import Testing

/// The auth issuer wired by `AuthIssuerService.make` as the executable wires it, run in process on port 0.
@Suite struct AuthIssuerServiceWiringTests {
    @Test func servesItsKeysAndShutsDownGracefully() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let yaml = """
            http: {port: 0}
            rpc: {port: 0, secret: auth-wiring-secret-0123456789}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            storage: {path: \(folder.path("auth.sqlite"))}
            limiter: {port: \(try freeLoopbackPort())}
            """
        // A connection left open: a port number may be reused by another test at once, an accepted
        // connection is this server's alone.
        var connection: RawTCPConnection?
        try await withInProcessService(AuthIssuerService.self, yaml: yaml) { issuer in
            let httpPort = try await issuer.httpPort()
            let keys = try await httpGetOffPool(port: httpPort, path: "/.well-known/jwks.json")
            #expect(keys.status == 200)
            #expect(keys.body.contains(#""kid""#), "make created the first signing key: \(keys.body)")
            let ready = try await httpGetOffPool(port: try await issuer.adminPort(), path: "/readyz")
            #expect(ready.status == 200, "\(ready.body)")
            // Served once, so the server holds it as one of its connections (not only in the listen queue)
            // when the shutdown begins.
            let kept = try RawTCPConnection(port: httpPort)
            try kept.send("GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // Off the cooperative threads, which the issuer in this process needs to answer.
            let answer = try await onThreadOfItsOwn { kept.receive(timeout: .seconds(10)) { $0.contains("\r\n\r\n") && $0.hasSuffix("}") } }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            connection = kept
        }
        #expect(connection?.waitForClose(timeout: .seconds(10)) != nil, "the HTTP server closed its connections on shutdown")
    }
}
