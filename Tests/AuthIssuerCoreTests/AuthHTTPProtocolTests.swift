import AuthIssuerCore
import GatehouseTestSupport
import Testing

/// What RFC 9110 and RFC 9112 make the issuer's HTTP server answer, whatever the endpoint: `HEAD` wherever
/// `GET` is, `405` with `Allow` for a known path asked with another method, `400` for a bad `Host`.
@Suite struct AuthHTTPProtocolTests {
    @Test func headMethodNotAllowedAndHostAreAnsweredAsTheStandardsSay() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let yaml = """
            http: {port: 0}
            rpc: {port: 0, secret: auth-protocol-secret-0123456789}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            storage: {path: \(folder.path("auth.sqlite"))}
            limiter: {port: \(try freeLoopbackPort())}
            """
        try await withInProcessService(AuthIssuerService.self, yaml: yaml) { issuer in
            let port = try await issuer.httpPort()
            let get = try await httpRequestOffPool(port: port, method: "GET", path: "/.well-known/jwks.json")
            let head = try await httpRequestOffPool(port: port, method: "HEAD", path: "/.well-known/jwks.json")
            #expect(head.status == 200, "HEAD is answered wherever GET is")
            #expect(head.body.isEmpty)
            #expect(head.headers["content-type"] == get.headers["content-type"])

            let wrongMethod = try await httpRequestOffPool(port: port, method: "GET", path: "/oauth/token")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["allow"] == "POST")
            #expect(wrongMethod.headers["content-type"] == "application/problem+json")
            let deleteKeys = try await httpRequestOffPool(port: port, method: "DELETE", path: "/.well-known/jwks.json")
            #expect(deleteKeys.status == 405)
            #expect(deleteKeys.headers["allow"] == "GET, HEAD")
            #expect(try await httpRequestOffPool(port: port, method: "GET", path: "/admin/secrets").status == 404)

            for (request, detail) in [
                ("GET /.well-known/jwks.json HTTP/1.1\r\nConnection: close\r\n\r\n", "the request needs a Host header field"),
                ("GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", "the request has 2 Host header fields; it may have one"),
                ("GET /.well-known/jwks.json HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n", "the Host header field is not a valid host[:port]"),
            ] {
                // Off the cooperative threads, which the issuer in this process needs to answer.
                let answer = try await onThreadOfItsOwn {
                    let connection = try RawTCPConnection(port: port)
                    try connection.send(request)
                    return connection.receive(timeout: .seconds(10)) { $0.contains("}") }
                }
                #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
                #expect(answer.contains("application/problem+json") && answer.contains(detail), "\(answer)")
            }
        }
    }
}
