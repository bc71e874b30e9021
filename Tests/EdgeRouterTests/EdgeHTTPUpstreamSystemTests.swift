import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseHTTPSystemTests {
    /// The real edge process in front of a small real HTTP API (Python's http.server): tokens from the real
    /// issuer, the upstream's `Cache-Control` honoured, a write dropping the cached read, the verified
    /// identity forwarded and a client's forged one never.
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeHTTPUpstreamSystemTests {
        /// `GET /articles/{id}`: a JSON document whose `served` counts the GETs, `Cache-Control: max-age=60`;
        /// `PUT /articles/{id}`: `204`; `GET /echo`: the request's header fields as `name: value` lines.
        static let api = #"""
            import sys, http.server, json
            served = 0
            class API(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *args): pass
                def answer(self, status, body, headers=()):
                    data = body.encode()
                    self.send_response(status)
                    for name, value in headers: self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                def do_GET(self):
                    global served
                    if self.path == "/echo":
                        self.answer(200, "\n".join(f"{k}: {v}" for k, v in self.headers.items()), [("Content-Type", "text/plain")])
                    elif self.path.startswith("/articles/"):
                        served += 1
                        body = json.dumps({"id": self.path.split("/")[-1], "served": served})
                        self.answer(200, body, [("Content-Type", "application/json"), ("Cache-Control", "max-age=60")])
                    else:
                        self.answer(404, "no such path")
                def do_PUT(self):
                    self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), API).serve_forever()
            """#

        @Test func theEdgeFrontsAnHTTPAPIWithTokensACoherentCacheAndTheVerifiedIdentity() async throws {
            let api = try await PythonAPIProcess.start(script: Self.api)
            defer { api.stop() }
            let port = api.port
            let upstream = "{addresses: [http://127.0.0.1:\(port)], path_prefix_rewrite: {from: /api, to: /}}"
            let routes = """
                routes:
                  - path: /api/{collection}/{id}
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 30s}
                    upstream: \(upstream)
                  - path: /api/{collection}/{id}
                    methods: [PUT]
                    upstream: \(upstream)
                  - path: /api/echo
                    methods: [GET]
                    upstream: \(upstream)
                """
            try await GatehouseSystem.run(routes: routes) { system in
                let token = try await system.adminToken()

                let first = try await system.edge(0, "GET", "/api/articles/7")
                #expect(first.status == 200, "\(first.body)")
                #expect(first.body.contains(#""served": 1"#))
                let second = try await system.edge(0, "GET", "/api/articles/7")
                #expect(second.body == first.body, "a hit")
                #expect(second.headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)

                #expect(try await system.edge(0, "PUT", "/api/articles/7", body: "{}").status == 401, "the write needs a token")
                #expect(try await system.edge(0, "PUT", "/api/articles/7", token: token, body: "{}").status == 204)
                let after = try await system.edge(0, "GET", "/api/articles/7")
                #expect(after.body.contains(#""served": 2"#), "the write dropped the entry: \(after.body)")

                let echo = try await system.edge(0, "GET", "/api/echo", token: token, headers: [("X-Gatehouse-Sub", "mallory")])
                #expect(echo.status == 200)
                #expect(echo.body.contains("X-Gatehouse-Sub: ") && !echo.body.contains("mallory"), "\(echo.body)")
                #expect(echo.body.contains("X-Gatehouse-Roles: ") && echo.body.contains("admin"), "\(echo.body)")
            }
        }
    }
}
