import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseSystemTests {
    /// Policy keys and policy names end to end: the edge process over the limiter, the issuer and
    /// the data service (in process, ``GatehouseSystem``), clients told apart by `X-Forwarded-For` (the edge trusts the test as its load balancer).
    @Suite(.timeLimit(.minutes(3)))
    struct EdgePolicyKeySystemTests {
        /// Every policy allows 2 requests an hour; `ghost` is in the edge's policy file only.
        static func policies(ghost: Bool) -> String {
            """
            replicas: 1
            policies:
              - {name: by_ip, limit: 2, period: 1h, key: [ip]}
              - {name: by_sub, limit: 2, period: 1h, key: [sub]}
              - {name: by_client, limit: 2, period: 1h, key: [client_id]}
              - {name: by_role, limit: 2, period: 1h, key: [role]}
              - {name: by_api_key, limit: 2, period: 1h, key: [api_key]}
              - {name: by_route, limit: 2, period: 1h, key: [route]}
              - {name: by_method, limit: 2, period: 1h, key: [sub, method]}
              - {name: auth_failures, limit: 10, period: 1m, key: [ip]}
              - {name: login_username, limit: 5, period: 1m, key: [sub]}
              - {name: login_ip, limit: 50, period: 1m, key: [ip]}
            """ + (ghost ? "\n  - {name: ghost, limit: 100, period: 1h, key: [ip], on_redis_failure: deny}\n" : "\n")
        }

        static let routes = """
            routes:
              - {path: "/v1/by-ip/{collection}", methods: [GET], auth: optional, tiers: {anonymous: [by_ip], authenticated: [by_ip]}}
              - {path: "/v1/by-sub/{collection}", methods: [GET], auth: optional, tiers: {anonymous: [by_sub], authenticated: [by_sub]}}
              - {path: "/v1/by-client/{collection}", methods: [GET], tiers: {authenticated: [by_client]}}
              - {path: "/v1/by-role/{collection}", methods: [GET], tiers: {admin: [by_role], authenticated: [by_role]}}
              - {path: "/v1/by-key/{collection}", methods: [GET], auth: none, tiers: {anonymous: [by_api_key]}}
              - {path: "/v1/by-route/{collection}", methods: [GET], auth: optional, tiers: {anonymous: [by_route], authenticated: [by_route]}}
              - {path: "/v1/by-route/{collection}/{id}", methods: [GET], auth: optional, tiers: {anonymous: [by_route], authenticated: [by_route]}}
              - {path: "/v1/by-method/{collection}/{id}", methods: [GET, PUT], tiers: {authenticated: [by_method]}}
              - {path: "/v1/ghost/{collection}", methods: [GET], auth: none, tiers: {anonymous: [ghost]}}
            """

        @Test func eachKeyPartNamesTheCounterARequestChargesAndAnUnknownPolicyFollowsItsFallback() async throws {
            let folder = try TestFolder()
            try folder.write("edge-policies.yaml", Self.policies(ghost: true))
            try folder.write("limiter-policies.yaml", Self.policies(ghost: false))
            try folder.write("routes.yaml", Self.routes)
            try await GatehouseSystem.run(
                edgeEnvironment: [
                    "EDGE_ROUTES_FILE": folder.path("routes.yaml"), "EDGE_ROUTES_WATCH_INTERVAL_MS": "100", "EDGE_POLICIES_FILE": folder.path("edge-policies.yaml"),
                    "EDGE_POLICIES_API_KEY_HEADER": "X-API-Key", "EDGE_HTTP_TRUSTED_PROXIES": "127.0.0.1",
                ],
                limiterEnvironment: ["LIMITER_POLICIES_FILE": folder.path("limiter-policies.yaml")]
            ) { system in
                for user in ["alice", "bob", "carol"] { try await system.addUser(user, password: "\(user)-password-123") }
                let client = try await Self.addClient(system, "mobile")
                let alice = try await system.token(user: "alice", password: "alice-password-123")
                let bob = try await system.token(user: "bob", password: "bob-password-123")
                let aliceMobile = try await Self.token(system, user: "alice", client: client)
                let bobMobile = try await Self.token(system, user: "bob", client: client)
                let carol = try await system.token(user: "carol", password: "carol-password-123")
                let admin = try await system.adminToken()
                func status(_ path: String, _ token: String? = nil, from address: String = "198.51.100.1", method: String = "GET", headers: [(String, String)] = []) async throws -> Int {
                    let body = method == "PUT" ? #"{"title":"m"}"# : nil
                    return try await system.edge(0, method, path, token: token, headers: headers + [("X-Forwarded-For", address)], body: body).status
                }

                // [ip]: per client address, even for a token holder.
                #expect(try await status("/v1/by-ip/articles", alice, from: "198.51.100.1") == 200)
                #expect(try await status("/v1/by-ip/articles", alice, from: "198.51.100.1") == 200)
                #expect(try await status("/v1/by-ip/articles", alice, from: "198.51.100.1") == 429)
                #expect(try await status("/v1/by-ip/articles", alice, from: "198.51.100.2") == 200, "[ip]: alice from another address")

                // [sub]: per subject wherever it comes from; an anonymous caller by its address.
                #expect(try await status("/v1/by-sub/articles", alice, from: "198.51.100.1") == 200)
                #expect(try await status("/v1/by-sub/articles", alice, from: "198.51.100.2") == 200)
                #expect(try await status("/v1/by-sub/articles", alice, from: "198.51.100.3") == 429, "[sub]: alice from anywhere")
                #expect(try await status("/v1/by-sub/articles", bob) == 200)
                #expect(try await status("/v1/by-sub/articles", from: "198.51.100.4") == 200)
                #expect(try await status("/v1/by-sub/articles", from: "198.51.100.4") == 200)
                #expect(try await status("/v1/by-sub/articles", from: "198.51.100.5") == 200, "[sub]: anonymous callers never share one counter")
                #expect(try await status("/v1/by-sub/articles", from: "198.51.100.4") == 429)

                // [client_id]: one counter per OAuth client across its users; a token without one, its own.
                #expect(try await status("/v1/by-client/articles", aliceMobile) == 200)
                #expect(try await status("/v1/by-client/articles", bobMobile) == 200)
                #expect(try await status("/v1/by-client/articles", aliceMobile) == 429, "[client_id]: alice and bob share the client mobile's counter")
                #expect(try await status("/v1/by-client/articles", carol) == 200, "[client_id]: a token without a client is not in mobile's counter")

                // [role]: one counter per tier: alice and bob are both `authenticated`; the admin has its own tier.
                #expect(try await status("/v1/by-role/articles", alice) == 200)
                #expect(try await status("/v1/by-role/articles", bob) == 200)
                #expect(try await status("/v1/by-role/articles", carol) == 429, "[role]: the authenticated tier's counter is spent")
                #expect(try await status("/v1/by-role/articles", admin) == 200)

                // [api_key]: per API key, from any address.
                let keyA = [("X-API-Key", "key-a")]
                #expect(try await status("/v1/by-key/articles", from: "198.51.100.1", headers: keyA) == 200)
                #expect(try await status("/v1/by-key/articles", from: "198.51.100.2", headers: keyA) == 200)
                #expect(try await status("/v1/by-key/articles", from: "198.51.100.3", headers: keyA) == 429, "[api_key]: key-a from anywhere")
                #expect(try await status("/v1/by-key/articles", from: "198.51.100.3", headers: [("X-API-Key", "key-b")]) == 200)

                // [route]: one counter per route template, for everyone.
                #expect(try await status("/v1/by-route/articles", from: "198.51.100.1") == 200)
                #expect(try await status("/v1/by-route/comments", alice) == 200)
                #expect(try await status("/v1/by-route/articles", from: "198.51.100.2") == 429, "[route]: the route's counter is spent, by anyone")
                #expect(try await status("/v1/by-route/articles/doc-000001", from: "198.51.100.1") == 200, "[route]: another template, another counter")

                // [sub, method]: per subject and method.
                #expect(try await status("/v1/by-method/articles/doc-000001", alice) == 200)
                #expect(try await status("/v1/by-method/articles/doc-000001", alice) == 200)
                #expect(try await status("/v1/by-method/articles/doc-000001", alice) == 429)
                #expect(try await status("/v1/by-method/articles/m1", alice, method: "PUT") == 201, "[sub, method]: PUT has its own counter")
                #expect(try await status("/v1/by-method/articles/doc-000001", bob) == 200, "[sub, method]: bob has his own")

                // A policy the limiter does not know: its fallback (deny) decides, counted and logged, never a silent allow.
                let ghost = try await system.edge(0, "GET", "/v1/ghost/articles")
                #expect(ghost.status == 429, "\(ghost.body)")
                #expect(ghost.body.contains("ghost"))
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_limiter_refused_checks_total") == 1)
                let refused = try await system.edges[0].waitForLog(message: "the limiter refused a check (does its policy file lack one of these policies?); the policies' fallbacks decide")
                #expect((refused["metadata.error"] as? String)?.contains("ghost") == true, "\(refused)")

                // A route file naming a policy the edge's policy file lacks is refused on reload; the routes in force stay.
                try folder.write("routes.yaml", Self.routes + "\n  - {path: \"/v1/new/{collection}\", methods: [GET], auth: none, tiers: {anonymous: [phantom]}}\n")
                let rejected = try await system.edges[0].waitForLog(message: "route file rejected; the previous routes stay in force", timeout: .seconds(10))
                let problems = rejected["problems"] as? String ?? ""
                #expect(problems.contains("routes.yaml:11: routes[9].tiers.anonymous: tier \"anonymous\" names the policy \"phantom\""), "\(problems)")
                #expect(try await status("/v1/new/articles") == 404, "the previous routes stay in force")
            }
        }

        /// Adds an OAuth client with the issuer's CLI; returns its id and secret.
        static func addClient(_ system: GatehouseSystem, _ id: String) async throws -> (id: String, secret: String) {
            let command = try ServiceProcess.start(
                product: "auth-issuer", arguments: ["clients", "add", id, "--scopes", "read,write"], environment: system.authEnvironment,
                logPath: system.folder.path("cli-client-\(id).log")
            )
            #expect(try await command.waitForExit(timeout: .seconds(30)) == .exited(0), "\(command.log)")
            let secret = command.log.split(separator: "\n").first { $0.hasPrefix("client_secret=") }?.dropFirst("client_secret=".count)
            return (id, String(try #require(secret, "\(command.log)")))
        }

        /// A password-grant token issued to an authenticated client.
        static func token(_ system: GatehouseSystem, user: String, client: (id: String, secret: String)) async throws -> String {
            let body = "grant_type=password&username=\(user)&password=\(user)-password-123&client_id=\(client.id)&client_secret=\(client.secret)"
            let response = try await system.issuer("POST", "/oauth/token", body: body)
            let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            return try #require(object?["access_token"] as? String, "\(response.body)")
        }

        /// An edge whose route file names a policy the policy file lacks does not start: status 78, naming the
        /// route file's line, the tier and the policy.
        @Test func anEdgeWhoseTiersNameAnUnknownPolicyDoesNotStart() async throws {
            let folder = try TestFolder()
            try folder.write("policies.yaml", "policies:\n  - {name: public, limit: 20, period: 1m, key: [ip]}\n  - {name: auth_failures, limit: 10, period: 1m, key: [ip]}\n")
            try folder.write("routes.yaml", "routes:\n  - {path: \"/v1/{collection}\", methods: [GET], auth: optional}\ntiers:\n  anonymous: [public]\n  user: [usr]\n")
            let edge = try ServiceProcess.start(
                product: "edge-router",
                environment: [
                    "EDGE_RPC_SECRET": systemSecret, "EDGE_HTTP_PORT": "0", "EDGE_ADMIN_PORT": "0", "EDGE_ROUTES_FILE": folder.path("routes.yaml"),
                    "EDGE_POLICIES_FILE": folder.path("policies.yaml"),
                ],
                logPath: folder.path("edge.log")
            )
            defer { edge.stop() }
            #expect(try await edge.waitForExit(timeout: .seconds(20)) == .exited(78), "\(edge.log)")
            #expect(
                edge.log.contains(
                    "\(folder.path("routes.yaml")):5: tiers.user: tier \"user\" names the policy \"usr\", which the policy file \(folder.path("policies.yaml")) does not define"
                ),
                "\(edge.log)"
            )
        }
    }
}
