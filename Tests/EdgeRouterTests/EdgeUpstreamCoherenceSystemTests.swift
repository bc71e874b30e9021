import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseSystemTests {
    /// Two real edge processes in front of one real HTTP API (Python's http.server): a write through one edge
    /// is seen through the other within the bound of the data service's coherence test (3 s), listing and
    /// the route's other `upstream.invalidates` paths included; the admin endpoint and a raw `PUBLISH` of
    /// the documented message drop paths on both edges when the API changed data by itself.
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeUpstreamCoherenceSystemTests {
        /// Articles in memory: `GET /articles`, `GET /articles/{id}` and `GET /summary` answer with
        /// `Cache-Control: max-age=60`; `PUT /articles/{id}` stores `{"title":…}` (`204`); `POST /change/{id}`
        /// (called by the test straight at the API, never through an edge) changes a title behind the edges' back.
        static let api = #"""
            import sys, http.server, json
            titles = {"7": "first", "8": "other"}
            class API(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *args): pass
                def answer(self, status, body):
                    data = body.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Cache-Control", "max-age=60")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                def body(self):
                    return self.rfile.read(int(self.headers.get("Content-Length", "0")))
                def do_GET(self):
                    if self.path == "/articles":
                        self.answer(200, json.dumps([{"id": k, "title": v} for k, v in sorted(titles.items())]))
                    elif self.path == "/summary":
                        self.answer(200, json.dumps({"titles": sorted(titles.values())}))
                    elif self.path.startswith("/articles/") and self.path.split("/")[-1] in titles:
                        key = self.path.split("/")[-1]
                        self.answer(200, json.dumps({"id": key, "title": titles[key]}))
                    else:
                        self.answer(404, "{}")
                def do_PUT(self):
                    titles[self.path.split("/")[-1]] = json.loads(self.body())["title"]
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                def do_POST(self):
                    titles[self.path.split("/")[-1]] = json.loads(self.body())["title"]
                    self.answer(200, "{}")
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), API).serve_forever()
            """#

        /// The bound the data service's coherence test gives a write to reach the other edge.
        static let coherenceBound = Duration.seconds(3)

        static func routes(port: Int) -> String {
            let upstream = "addresses: [http://127.0.0.1:\(port)]"
            return """
                routes:
                  - path: /articles
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 60s}
                    upstream: {\(upstream)}
                  - path: /summary
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 60s}
                    upstream: {\(upstream)}
                  - path: /articles/{id}
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 60s}
                    upstream: {\(upstream)}
                  - path: /articles/{id}
                    methods: [PUT]
                    upstream: {\(upstream), invalidates: ["/articles/{id}", /articles, /summary]}
                """
        }

        @Test func aWriteThroughOneEdgeTheAdminEndpointAndARawPublishDropPathsOnEveryEdge() async throws {
            let api = try await PythonAPIProcess.start(script: Self.api)
            defer { api.stop() }
            let port = api.port
            try await GatehouseSystem.run(edges: 2, routes: Self.routes(port: port)) { system in
                let paths = ["/articles/7", "/articles", "/summary"]
                /// Reads every path through both edges twice: the second read is a hit.
                func cacheEverywhere(_ expected: String) async throws {
                    for edge in 0..<2 {
                        for path in paths {
                            #expect(try await system.edge(edge, "GET", path).body.contains(expected), "edge \(edge) \(path)")
                            let again = try await system.edge(edge, "GET", path)
                            #expect(again.headers["cache-status"]?.hasPrefix("gatehouse; hit") == true, "edge \(edge) \(path): \(again.headers)")
                            #expect(again.body.contains(expected), "edge \(edge) \(path)")
                        }
                    }
                }
                /// Waits until every path through edge `index` answers with `expected`; returns how long it took.
                func seen(_ expected: String, on index: Int) async throws -> Duration? {
                    let started = ContinuousClock.now
                    while ContinuousClock.now - started < Self.coherenceBound {
                        var everywhere = true
                        for path in paths where try await !system.edge(index, "GET", path).body.contains(expected) { everywhere = false }
                        if everywhere { return ContinuousClock.now - started }
                        try await Task.sleep(for: .milliseconds(2))
                    }
                    return nil
                }
                /// Changes article 7's title at the API itself, which no edge sees.
                func changeBehindTheEdges(_ title: String) throws {
                    #expect(try httpRequest(port: port, method: "POST", path: "/change/7", body: Array(#"{"title":"\#(title)"}"#.utf8)).status == 200)
                }

                // A PUT through edge 0: edge 0 answers the new version at once, edge 1 within the bound, the
                // article, the listing and the summary alike.
                try await cacheEverywhere("first")
                let put = try await system.edge(0, "PUT", "/articles/7", token: try await system.adminToken(), body: #"{"title":"second"}"#)
                #expect(put.status == 204, "\(put.body)")
                for path in paths { #expect(try await system.edge(0, "GET", path).body.contains("second"), "read your own write: \(path)") }
                let propagated = try await seen("second", on: 1)
                #expect(propagated != nil, "edge 1 serves the new version of every path the route invalidates")
                print("a PUT through edge 0 reached edge 1 in \(propagated ?? .zero)")
                #expect((prometheusSample(try system.edgeMetrics(0), "gatehouse_edge_path_invalidation_messages_total", ["outcome": "published"]) ?? 0) >= 1)
                #expect((prometheusSample(try system.edgeMetrics(1), "gatehouse_edge_path_invalidation_messages_total", ["outcome": "received"]) ?? 0) >= 1)

                // The admin endpoint, with a client token of the scope gatehouse:invalidate.
                let command = try ServiceProcess.start(
                    product: "auth-issuer", arguments: ["clients", "add", "catalog-api", "--scopes", "gatehouse:invalidate"],
                    environment: system.authEnvironment, logPath: system.folder.path("cli-client.log")
                )
                #expect(try await command.waitForExit(timeout: .seconds(30)) == .exited(0), "\(command.log)")
                let secret = try #require(command.log.split(separator: "\n").first { $0.hasPrefix("client_secret=") }?.dropFirst("client_secret=".count))
                let grant = try await system.issuer("POST", "/oauth/token", body: "grant_type=client_credentials&client_id=catalog-api&client_secret=\(secret)")
                let clientToken = try #require((try JSONSerialization.jsonObject(with: Data(grant.body.utf8)) as? [String: Any])?["access_token"] as? String, "\(grant.body)")
                let admin = system.edgeAdminPorts[0]
                func invalidate(token: String?, contentType: String = "application/json", body: [UInt8]) throws -> HTTPProbeResponse {
                    var headers = [("Content-Type", contentType)]
                    if let token { headers.append(("Authorization", "Bearer \(token)")) }
                    return try httpRequest(port: admin, method: "POST", path: "/_gatehouse/invalidate", headers: headers, body: body)
                }
                try await cacheEverywhere("second")
                try changeBehindTheEdges("third")
                let body = Array(#"{"paths":["/articles/7","/articles","/summary"]}"#.utf8)
                let refusals: [(HTTPProbeResponse, Int)] = [
                    (try invalidate(token: nil, body: body), 401),
                    (try invalidate(token: "not-a-token", body: body), 401),
                    (try invalidate(token: try await system.adminToken(), body: body), 403),
                    (try invalidate(token: clientToken, contentType: "text/plain", body: body), 415),
                    (try invalidate(token: clientToken, body: Array(#"{"path":["/articles/7"]}"#.utf8)), 400),
                    (try invalidate(token: clientToken, body: Array(#"{"paths":["articles/7"]}"#.utf8)), 400),
                    (try invalidate(token: clientToken, body: [UInt8](repeating: UInt8(ascii: " "), count: 300_000)), 413),
                    (try httpRequest(port: admin, method: "GET", path: "/_gatehouse/invalidate", headers: [("Authorization", "Bearer \(clientToken)")]), 405),
                ]
                for (response, status) in refusals {
                    #expect(response.status == status, "\(response.body)")
                    #expect(response.headers["content-type"] == "application/problem+json", "\(status): \(response.headers)")
                }
                #expect(refusals[0].0.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                #expect(refusals[2].0.headers["www-authenticate"]?.contains(#"error="insufficient_scope""#) == true)
                #expect(refusals[4].0.body.contains("path"), "the 400 names what is wrong: \(refusals[4].0.body)")
                #expect(refusals[7].0.headers["allow"] == "POST")
                for path in paths { #expect(try await system.edge(1, "GET", path).body.contains("second"), "refused requests dropped nothing: \(path)") }
                let accepted = try invalidate(token: clientToken, body: body)
                #expect(accepted.status == 200, "\(accepted.body)")
                #expect(accepted.body.contains(#""paths":["/articles/7","/articles","/summary"]"#) && accepted.body.contains(#""dropped":3"#), "\(accepted.body)")
                for path in paths { #expect(try await system.edge(0, "GET", path).body.contains("third"), "edge 0 at once: \(path)") }
                #expect(try await seen("third", on: 1) != nil, "edge 1 after the admin endpoint")

                // A raw PUBLISH of the documented message, as any service may send it; an unreadable one changes nothing.
                try await cacheEverywhere("third")
                try changeBehindTheEdges("fourth")
                try Self.publish(port: system.redis.port, "gatehouse:invalidations:paths", "not json")
                for path in paths { #expect(try await system.edge(1, "GET", path).body.contains("third"), "an unreadable message dropped nothing: \(path)") }
                try Self.publish(port: system.redis.port, "gatehouse:invalidations:paths", #"{"v":1,"paths":["/articles/7","/articles","/summary"]}"#)
                for edge in 0..<2 { #expect(try await seen("fourth", on: edge) != nil, "edge \(edge) after a raw PUBLISH") }
                for edge in 0..<2 {
                    let metrics = try system.edgeMetrics(edge)
                    #expect((prometheusSample(metrics, "gatehouse_edge_path_invalidation_messages_total", ["outcome": "unreadable"]) ?? 0) >= 1, "edge \(edge)")
                }
            }
        }

        /// `redis-cli PUBLISH`, as an operator or another service would send the message.
        static func publish(port: Int, _ channel: String, _ message: String) throws {
            let cli = Process()
            cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
            cli.arguments = ["-p", "\(port)", "PUBLISH", channel, message]
            cli.standardOutput = FileHandle.nullDevice
            try cli.run()
            cli.waitUntilExit()
            #expect(cli.terminationStatus == 0)
        }
    }
}
