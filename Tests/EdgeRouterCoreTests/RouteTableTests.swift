@testable import EdgeRouterCore
import Testing

/// The route file: what it matches, and one refused file per kind of mistake.
struct RouteTableTests {
    static let file = """
        routes:
          - path: /v1/{collection}/{id}
            methods: [GET]
            auth: optional
            cache: {ttl: 30s, scope: public, stale_while_revalidate: 10s, stale_if_error: 5m}
          - path: /v1/{collection}
            methods: [GET]
            auth: optional
            cache: {ttl: 5s}
          - path: /v1/{collection}
            methods: [POST]
            scopes: [write]
          - path: /v1/{collection}/{id}
            methods: [put, DELETE]
            scopes: [write]
            owner_only: true
          - path: /v1/me/{collection}
            methods: [GET]
            cache: {ttl: 1m, scope: user}
            tiers: {anonymous: [], admin: [admin]}
        tiers:
          anonymous: [public]
          admin: [admin]
          user: [user]
        """

    @Test func matchesTemplatesMethodsAndParameters() throws {
        let table = try RouteTable(yaml: Self.file, source: "routes.yaml")
        #expect(table.routes.count == 5)
        guard case .route(let route, let parameters) = table.match(method: "GET", path: "/v1/posts/p1") else {
            Issue.record("GET /v1/posts/p1 did not match")
            return
        }
        #expect(parameters == ["collection": "posts", "id": "p1"])
        #expect(route.authentication == .optional)
        #expect(route.caching?.freshness == .init(ttl: .seconds(30), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)))
        guard case .route(let write, _) = table.match(method: "PUT", path: "/v1/posts/p1") else {
            Issue.record("PUT did not match")
            return
        }
        #expect(write.authentication == .required, "required is the default")
        #expect(write.ownerOnly && write.scopes == ["write"])
        guard case .route(_, _) = table.match(method: "HEAD", path: "/v1/posts") else {
            Issue.record("HEAD did not match the GET route")
            return
        }
        #expect(table.match(method: "PATCH", path: "/v1/posts/p1") == .methodNotAllowed(allowed: ["DELETE", "GET", "HEAD", "PUT"]))
        #expect(table.match(method: "GET", path: "/v2/posts") == .notFound)
        #expect(table.match(method: "GET", path: "/v1/posts/p1/extra") == .notFound)
        #expect(table.match(method: "GET", path: "/v1//p1") == .notFound, "an empty segment is not a parameter")
    }

    @Test func theMostSpecificTemplateDecidesAndLiteralsMatchWhole() throws {
        let table = try RouteTable(yaml: Self.file, source: "routes.yaml")
        guard case .route(let mine, let parameters) = table.match(method: "GET", path: "/v1/me/posts") else {
            Issue.record("GET /v1/me/posts did not match")
            return
        }
        #expect(mine.path == "/v1/me/{collection}", "more literal segments win over /v1/{collection}/{id}")
        #expect(parameters == ["collection": "posts"])
        #expect(
            table.match(method: "PUT", path: "/v1/me/posts") == .methodNotAllowed(allowed: ["GET", "HEAD"]),
            "the most specific template decides the methods, even when a less specific one serves PUT"
        )
        guard case .route(let document, let found) = table.match(method: "GET", path: "/v1/mex/posts") else {
            Issue.record("GET /v1/mex/posts did not match")
            return
        }
        #expect(document.path == "/v1/{collection}/{id}" && found == ["collection": "mex", "id": "posts"], "a literal matches a whole segment")
        #expect(table.match(method: "GET", path: "/v/posts") == .notFound)
        #expect(table.match(method: "GET", path: "/v1/posts/") == .notFound, "a trailing slash is an empty last segment")
        #expect(table.match(method: "GET", path: "v1/posts") == .notFound, "what comes before the first / is not a segment")
        #expect(table.match(method: "GET", path: "/") == .notFound)
        #expect(table.match(method: "BREW", path: "/v1/posts") == .methodNotAllowed(allowed: ["GET", "HEAD", "POST"]))
        guard case .route(_, let utf8) = table.match(method: "GET", path: "/v1/t\u{e9}l\u{e9}/\u{1F600}") else {
            Issue.record("a path with non-ASCII segments did not match")
            return
        }
        #expect(utf8 == ["collection": "t\u{e9}l\u{e9}", "id": "\u{1F600}"])
    }

    @Test func tiersPickTheCallersPolicies() throws {
        let table = try RouteTable(yaml: Self.file, source: "routes.yaml")
        let route = try #require(table.routes.first { $0.path == "/v1/{collection}" && $0.methods == ["GET"] })
        #expect(route.tier(forRoles: nil)?.name == "anonymous")
        #expect(route.tier(forRoles: nil)?.policies == ["public"])
        #expect(route.tier(forRoles: ["user", "admin"])?.policies == ["admin"], "the first tier in file order that is one of the roles")
        #expect(route.tier(forRoles: ["user", "admin"])?.name == "admin", "the tier's name is the caller's role key part")
        #expect(route.tier(forRoles: ["user"])?.policies == ["user"])
        #expect(route.tier(forRoles: ["auditor"]) == nil, "a token with no listed role and no 'authenticated' tier")
        let own = try #require(table.routes.first { $0.path == "/v1/me/{collection}" })
        #expect(own.tier(forRoles: ["user"]) == nil, "a route's own tiers replace the file's")
        #expect(own.tier(forRoles: nil)?.policies == [], "an empty tier: not rate-limited")
        #expect(own.caching?.scope == .user)
    }

    @Test(arguments: [
        ("routes:\n  - path: /v1/{collection}\n    method: [GET]\n", "routes.yaml:3: routes[0].method: unknown key 'method'; did you mean 'methods'?"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [PATCH]\n", "routes.yaml:2: routes[0].methods: PATCH needs an HTTP upstream:"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [FETCH]\n", "routes.yaml:3: routes[0].methods: expected some of GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [https://127.0.0.1:80]}\n", "routes[0].upstream.addresses: expected addresses such as http://127.0.0.1:8000"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: []}\n", "routes[0].upstream.addresses: expected at least one address"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {address: [http://127.0.0.1:80]}\n", "routes[0].upstream.address: unknown key 'address'"),
        ("routes:\n  - path: /api/a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], path_prefix_rewrite: {from: /ap, to: /}}\n", "routes[0].upstream.path_prefix_rewrite.from: expected leading literal segments"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], timeouts: {connect: 5s, total: 1s}}\n", "routes[0].upstream.timeouts.total: total must be at least connect"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], timeouts: {first_byte: 10m}}\n", "routes[0].upstream.timeouts.first_byte: expected 1ms to 5m"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], identity_headers: {sub: Host}}\n", "routes[0].upstream.identity_headers.sub: expected a header name"),
        ("routes:\n  - path: /a/{id}\n    methods: [PUT]\n    owner_only: true\n    upstream: {addresses: [http://h:80]}\n", "routes[0].owner_only: owner_only is the data service's ownership check"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], health_check: {path: health}}\n", "routes[0].upstream.health_check.path: expected a path such as /health"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], health_check: {interval: 100ms}}\n", "routes[0].upstream.health_check.interval: expected 1s to 5m"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], health_check: {interval: 2s, timeout: 5s}}\n", "routes[0].upstream.health_check.timeout: the timeout must not be longer than the interval"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], health_check: {unhealthy_after: 0}}\n", "routes[0].upstream.health_check.unhealthy_after"),
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], health_check: {every: 5s}}\n", "routes[0].upstream.health_check.every: unknown key 'every'"),
        // What goes into a header field as configured is checked here: the edge writes fields unvalidated.
        ("routes:\n  - path: /a\n    methods: [GET]\n    upstream: {addresses: [http://h:80], path_prefix_rewrite: {from: /a, to: \"/b\\r\\nX: 1\"}}\n", "routes[0].upstream.path_prefix_rewrite.to: expected a path"),
        ("routes:\n  - path: /a\n    methods: [POST]\n    scopes: [\"write\\r\\nX-Injected: 1\"]\n", "routes[0].scopes: expected scopes such as write"),
        ("routes:\n  - path: /a\n    methods: [POST]\n    scopes: [\"a\\\"b\"]\n", "routes[0].scopes: expected scopes such as write"),
        ("routes:\n  - path: /v1/{name}\n    methods: [GET]\n", "routes.yaml:2: routes[0].path: {name} is not a parameter"),
        ("routes:\n  - path: v1\n    methods: [GET]\n", "routes.yaml:2: routes[0].path: expected a path"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [POST]\n    cache: {ttl: 5s}\n", "routes.yaml:2: routes[0].cache: only a route of GET alone can be cached"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [GET]\n    auth: none\n    cache: {ttl: 5s, scope: user}\n", "routes[0].cache.scope: scope user needs auth"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [GET]\n    auth: sometimes\n", "routes[0].auth: expected one of none, optional, required"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [DELETE]\n    owner_only: true\n", "owner_only needs a path with {id} (PUT, DELETE) or a GET listing"),
        ("routes:\n  - path: /v1/mine/{collection}\n    methods: [GET]\n    owner_only: true\n    cache: {ttl: 5s}\n", "must be cached with scope user"),
        ("routes:\n  - path: /v1/{collection}/{id}\n    methods: [PUT]\n    auth: optional\n    owner_only: true\n", "owner_only needs auth required"),
        ("routes:\n  - path: /v1/{collection}\n    methods: [GET]\n    cache: {ttl: soon}\n", "routes[0].cache.ttl: expected a duration"),
        ("routes:\n  - path: /a\n    methods: [GET]\n  - path: /a\n    methods: [GET, POST]\n", "routes.yaml:4: routes[1]: GET /a is already routed by an earlier route"),
        ("tiers: {anonymous: [public]}\n", "routes.yaml: the file defines no 'routes'"),
        ("routes: [\n", "routes.yaml: not valid YAML"),
        ("routes:\n  - path: /a\n    methods: [GET]\ntiers:\n  user: [user, burst, user]\n", "routes.yaml:5: tiers.user: policy \"user\" is listed twice"),
    ])
    func aBadFileIsRefusedNamingLineAndField(yaml: String, expected: String) {
        do {
            _ = try RouteTable(yaml: yaml, source: "routes.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.problems.contains { $0.contains(expected) }, "\(error.problems)")
        }
    }

    @Test func anUpstreamsHealthCheckIsReadWithItsDefaults() throws {
        let yaml = """
            routes:
              - path: /a
                methods: [GET]
                upstream: {addresses: [http://h:80], health_check: {path: /health?deep=1, unhealthy_after: 5}}
              - path: /b
                methods: [GET]
                upstream: {addresses: [http://h:81], health_check: {}}
            """
        let table = try RouteTable(yaml: yaml, source: "routes.yaml")
        #expect(table.routes[0].upstream?.healthCheck == UpstreamHealthCheck(path: "/health?deep=1", interval: .seconds(10), timeout: .seconds(2), healthyAfter: 2, unhealthyAfter: 5))
        #expect(table.routes[1].upstream?.healthCheck == .defaults)
    }

    @Test func anUpstreamRouteIsReadWithItsDefaults() throws {
        let yaml = """
            routes:
              - path: /api/{collection}/{id}
                methods: [GET, PATCH, OPTIONS]
                upstream:
                  addresses: [http://127.0.0.1:8000, http://api.internal:9000]
                  path_prefix_rewrite: {from: /api, to: /}
                  timeouts: {first_byte: 3s}
                  identity_headers: {sub: X-User}
              - path: /v1/{collection}
                methods: [GET]
            """
        let table = try RouteTable(yaml: yaml, source: "routes.yaml")
        let upstream = try #require(table.routes[0].upstream)
        #expect(upstream.addresses == [UpstreamAddress(host: "127.0.0.1", port: 8000), UpstreamAddress(host: "api.internal", port: 9000)])
        #expect(upstream.timeouts == HTTPUpstream.Timeouts(connect: .seconds(2), firstByte: .seconds(3), total: .seconds(30)))
        #expect(upstream.identityHeaders == .init(subject: "X-User", roles: "X-Gatehouse-Roles", scopes: "X-Gatehouse-Scopes"))
        #expect(upstream.maximumBodyBytes == 1 << 20)
        #expect(upstream.target(path: "/api/articles/7", query: "a=1") == "/articles/7?a=1")
        #expect(table.routes[1].upstream == nil, "a route without upstream: is the data service's")
        #expect(upstream.healthCheck == nil, "no active health check unless configured")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = "routes:\n  - path: /v1/{nope}\n    methods: [GET]\n  - path: /v1/{collection}\n    methods: [FETCH]\n"
        #expect(throws: RouteFileError.self) { try RouteTable(yaml: yaml, source: "r.yaml") }
        #expect(((try? RouteTable(yaml: yaml, source: "r.yaml")) == nil))
        do { _ = try RouteTable(yaml: yaml, source: "r.yaml") } catch { #expect(error.problems.count == 2) }
    }
}

/// Cache keys: order-insensitive queries, and a subject in every user-scoped key.
struct CacheKeyTests {
    @Test func sortsTheQueryAndSeparatesSubjects() {
        let key = CacheKey.make(method: "GET", path: "/v1/posts", query: "limit=10&cursor=abc", subject: nil)
        #expect(key == CacheKey.make(method: "HEAD", path: "//v1//posts", query: "cursor=abc&limit=10&", subject: nil))
        #expect(key == CacheKey.make(method: "GET", path: "/v1/posts/", query: "limit=10&cursor=abc", subject: nil), "a trailing / is an empty segment")
        #expect(key == CacheKey.make(method: "GET", path: "v1/posts", query: "limit=10&cursor=abc", subject: nil))
        let root = CacheKey.make(method: "GET", path: "/", query: nil, subject: nil)
        #expect(root == CacheKey.make(method: "GET", path: "//", query: nil, subject: nil))
        #expect(root == CacheKey.make(method: "GET", path: "", query: nil, subject: nil))
        #expect(root == "GET /")
        #expect(key == "GET /v1/posts?cursor=abc&limit=10")
        let alice = CacheKey.make(method: "GET", path: "/v1/me/notes", query: nil, subject: "alice")
        let bob = CacheKey.make(method: "GET", path: "/v1/me/notes", query: nil, subject: "bob")
        #expect(alice != bob)
        #expect(alice == "GET /v1/me/notes sub=alice")
        #expect(alice == CacheKey.make(method: "HEAD", path: "//v1/me//notes", query: nil, subject: "alice"), "a clean path and one with empty segments")
        #expect(alice == CacheKey.make(method: "GET", path: "/v1/me/notes", query: "&", subject: "alice"), "an empty query")
        #expect(alice != CacheKey.make(method: "GET", path: "/v1/me/notes", query: nil, subject: nil))
    }
}
