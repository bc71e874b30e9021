import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseHTTPSystemTests {
    /// The real edge process in front of a small real HTTP API (Python's http.server) that records every
    /// request it receives: what a caller sees over its limit (`RateLimit` headers, a `429` the API never
    /// hears of), that a forged identity header never reaches the API, and the API failing: down (`502`,
    /// and a cached answer served within `stale-if-error`) or slow (`504` at the route's first-byte
    /// timeout). Tokens come from the real auth issuer.
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeHTTPUpstreamLimitsAndFailuresSystemTests {
        /// `GET /articles/{id}`: a JSON document (no `Cache-Control`: the route's `cache` decides);
        /// `GET /slow/{id}`: the same after 8 s; `PUT /articles/{id}`: `204`. Every request is appended to
        /// the file named by the second argument as one JSON line: method, path and header fields.
        static let api = #"""
            import sys, time, json, http.server
            received = open(sys.argv[2], "a", buffering=1)
            class API(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *args): pass
                def answer(self, status, body):
                    self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    received.write(json.dumps({"method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}) + "\n")
                    data = body.encode()
                    if self.path.startswith("/slow/"): time.sleep(8)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                def do_GET(self):
                    self.answer(200, json.dumps({"id": self.path.split("/")[-1], "title": "an article"}))
                def do_PUT(self):
                    self.answer(204, "")
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), API).serve_forever()
            """#

        /// Reads are cached for 2 s (an error refreshing one is answered with it for a minute after) and
        /// limited to 3 a minute per user (anonymous callers are not limited); writes are not limited;
        /// `/api/slow/{id}` waits at most 500 ms for the answer's first byte.
        static func routes(port: Int) -> String {
            let upstream = "addresses: [http://127.0.0.1:\(port)], path_prefix_rewrite: {from: /api, to: /}"
            return """
                routes:
                  - path: /api/{collection}/{id}
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 2s, scope: public, stale_if_error: 1m}
                    tiers: {user: [three_a_minute]}
                    upstream: {\(upstream)}
                  - path: /api/{collection}/{id}
                    methods: [PUT]
                    upstream: {\(upstream)}
                  - path: /api/slow/{id}
                    methods: [GET]
                    auth: optional
                    upstream: {\(upstream), timeouts: {first_byte: 500ms, total: 10s}}
                """
        }

        /// The repository's policies and `three_a_minute`, 3 requests a minute per subject.
        static func policies() throws -> String {
            let repository = try String(contentsOf: GatehouseSystem.repository.appendingPathComponent("config/policies.yaml"), encoding: .utf8)
            return repository + "\n  - {name: three_a_minute, limit: 3, period: 1m, key: [sub]}\n"
        }

        /// The API on a free port, recording into `folder`'s `received.jsonl`, once it answers.
        static func startAPI(in folder: TestFolder) async throws -> (process: ServiceProcess, port: Int) {
            try folder.write("api.py", Self.api)
            let port = try freeLoopbackPort()
            let api = try ServiceProcess.start(
                name: "articles API", executable: "/usr/bin/python3", arguments: [folder.path("api.py"), "\(port)", folder.path("received.jsonl")],
                environment: [:], logPath: folder.path("api.log")
            )
            let deadline = ContinuousClock.now + .seconds(20)
            while (try? httpGet(port: port, path: "/articles/ready")) == nil {
                guard ContinuousClock.now < deadline, api.exitStatus == nil else {
                    api.kill()
                    throw ServiceProcessError(description: "the articles API did not start\n\(api.logTail)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            return (api, port)
        }

        /// The requests the API has received: method, path and header fields (name, value).
        static func received(in folder: TestFolder) throws -> [(method: String, path: String, headers: [(String, String)])] {
            let text = (try? String(contentsOfFile: folder.path("received.jsonl"), encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map { line in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let headers = (object["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
                return (object["method"] as? String ?? "", object["path"] as? String ?? "", headers)
            }
        }

        @Test func aCallerOverItsLimitGets429BeforeTheAPIAndAForgedIdentityNeverReachesIt() async throws {
            let folder = try TestFolder()
            let api = try await Self.startAPI(in: folder)
            defer { api.process.kill() }
            try await GatehouseSystem.run(policies: try Self.policies(), routes: Self.routes(port: api.port)) { system in
                try await system.addUser("alice", password: "alice-password-1")
                let token = try await system.token(user: "alice", password: "alice-password-1")

                // Three reads a minute: the first fills the cache, the next two are hits; each says what is left.
                var answers: [HTTPProbeResponse] = []
                for _ in 0..<3 { answers.append(try await system.edge(0, "GET", "/api/articles/1", token: token)) }
                #expect(answers.map(\.status) == [200, 200, 200], "\(answers.map(\.body))")
                #expect(answers[0].headers["cache-status"]?.hasPrefix("gatehouse; fwd=uri-miss; stored") == true, "\(answers[0].headers)")
                #expect(answers[1].headers["cache-status"]?.hasPrefix("gatehouse; hit") == true, "\(answers[1].headers)")
                #expect(answers[2].body == answers[0].body)
                for answer in answers {
                    #expect(answer.headers["ratelimit-policy"] == #""three_a_minute";q=3;w=60"#, "\(answer.headers)")
                    #expect(answer.headers["ratelimit"]?.hasPrefix(#""three_a_minute";r="#) == true, "\(answer.headers)")
                }
                let refused = try await system.edge(0, "GET", "/api/articles/1", token: token)
                #expect(refused.status == 429)
                #expect(refused.headers["content-type"] == "application/problem+json", "\(refused.headers)")
                #expect(refused.headers["ratelimit"]?.hasPrefix(#""three_a_minute";r=0;t="#) == true, "\(refused.headers)")
                #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 > 0, "\(refused.headers)")
                // An anonymous caller has no limit on this route.
                #expect(try await system.edge(0, "GET", "/api/articles/1").status == 200)
                #expect(try Self.received(in: folder).filter { $0.path == "/articles/1" }.count == 1, "the hits and the 429 never reached the API")

                // A forged identity, from an anonymous caller and from alice (on a write, which is not limited).
                let forged = [("X-Gatehouse-Sub", "mallory"), ("X-Gatehouse-Roles", "admin"), ("X-Gatehouse-Scopes", "everything")]
                #expect(try await system.edge(0, "GET", "/api/articles/2", headers: forged).status == 200)
                #expect(try await system.edge(0, "PUT", "/api/articles/2", token: token, headers: forged, body: "{}").status == 204)
                let requests = try Self.received(in: folder)
                let anonymous = try #require(requests.first { $0.method == "GET" && $0.path == "/articles/2" })
                let write = try #require(requests.first { $0.method == "PUT" && $0.path == "/articles/2" })
                #expect(!anonymous.headers.contains { $0.0.lowercased().hasPrefix("x-gatehouse-") }, "no identity for an anonymous caller: \(anonymous.headers)")
                #expect(write.headers.filter { $0.0.lowercased() == "x-gatehouse-sub" }.map(\.1) == ["alice"], "\(write.headers)")
                #expect(write.headers.filter { $0.0.lowercased() == "x-gatehouse-roles" }.map(\.1) == ["user"], "\(write.headers)")
                for request in requests {
                    #expect(!request.headers.contains { $0.1.contains("mallory") || $0.1.contains("everything") }, "\(request.method) \(request.path): \(request.headers)")
                }
            }
        }

        @Test func theAPIDownIs502OrAStaleAnswerAndASlowAPIIs504AtTheFirstByteTimeout() async throws {
            let folder = try TestFolder()
            let api = try await Self.startAPI(in: folder)
            defer { api.process.kill() }
            try await GatehouseSystem.run(policies: try Self.policies(), routes: Self.routes(port: api.port)) { system in

                // Slow: the API takes 8 s; the route waits 500 ms for the first byte.
                let started = ContinuousClock.now
                let slow = try await system.edge(0, "GET", "/api/slow/1")
                let waited = ContinuousClock.now - started
                #expect(slow.status == 504, "\(slow.body)")
                #expect(slow.headers["content-type"] == "application/problem+json", "\(slow.headers)")
                #expect(slow.body.contains("the upstream did not answer within the route's timeouts"), "\(slow.body)")
                #expect(waited >= .milliseconds(500) && waited < .seconds(8), "answered after \(waited)")

                // Down: a cached answer is served past its freshness (stale-if-error); anything else is a 502.
                let cached = try await system.edge(0, "GET", "/api/articles/3")
                #expect(cached.status == 200)
                api.process.kill()
                let down = try await system.edge(0, "GET", "/api/articles/4")
                #expect(down.status == 502, "\(down.body)")
                #expect(down.headers["content-type"] == "application/problem+json", "\(down.headers)")
                #expect(down.body.contains("the upstream could not be reached or gave no valid answer"), "\(down.body)")
                #expect(!down.body.contains("127.0.0.1"), "the problem names no address: \(down.body)")
                let deadline = ContinuousClock.now + .seconds(20)
                var stale = try await system.edge(0, "GET", "/api/articles/3")
                while stale.headers["cache-status"]?.contains("stale-if-error") != true, ContinuousClock.now < deadline {
                    #expect(stale.status == 200, "a fresh hit until the entry's 2 s are over: \(stale.body)")
                    try await Task.sleep(for: .milliseconds(200))
                    stale = try await system.edge(0, "GET", "/api/articles/3")
                }
                #expect(stale.status == 200)
                #expect(stale.headers["cache-status"] == #"gatehouse; hit; detail="stale-if-error""#, "\(stale.headers)")
                #expect(stale.body == cached.body)
            }
        }
    }
}
