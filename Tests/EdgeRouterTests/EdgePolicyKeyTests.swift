import EdgeRouterCore
import Foundation
import GatehouseAuthAPI
import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import Testing

/// Each key part of the policy file names the counter a request charges, through the edge and the real
/// limiter on real Redis: requests share a counter exactly as the policy's key says. Every policy allows one
/// request an hour, so a second request on the same counter is refused.
@Suite(.timeLimit(.minutes(2)))
struct EdgePolicyKeyTests {
    static let catalog = try! PolicyCatalog(
        yaml: """
            replicas: 1
            policies:
              - {name: by_ip, limit: 1, period: 1h, key: [ip]}
              - {name: by_sub, limit: 1, period: 1h, key: [sub]}
              - {name: by_client, limit: 1, period: 1h, key: [client_id]}
              - {name: by_role, limit: 1, period: 1h, key: [role]}
              - {name: by_api_key, limit: 1, period: 1h, key: [api_key]}
              - {name: by_route, limit: 1, period: 1h, key: [route]}
              - {name: by_sub_method, limit: 1, period: 1h, key: [sub, method]}
            """,
        source: "keys.yaml"
    )

    /// A request from `ip`, with a token for `subject` (issued to `client`) when given, an API key when given.
    static func request(_ method: String = "GET", from ip: String, apiKey: String? = nil) -> EdgeRequest {
        EdgeRequest(
            method: method, path: "/v1/posts", query: nil, headers: apiKey.map { ["x-api-key": $0] } ?? [:], body: [], clientIP: ip, requestID: "r"
        )
    }

    static func claims(_ subject: String, client: String? = nil) -> AccessTokenClaims {
        AccessTokenClaims(
            issuer: "http://issuer", audience: "gatehouse", subject: subject, issuedAt: Date(), lifetime: .seconds(600), id: UUID().uuidString,
            scopes: ["read"], roles: ["user"], clientID: client
        )
    }

    /// Whether one request is allowed under `policy`.
    static func allowed(
        _ gate: EdgeRateLimiter, _ policy: String, _ request: EdgeRequest, claims: AccessTokenClaims? = nil, route: String = "/v1/{collection}",
        tier: String = "user"
    ) async -> Bool {
        await gate.decide(policies: [policy], for: gate.keyValues(of: request, route: route, claims: claims, tier: tier), requestID: "r").allowed
    }

    /// Every counter in Redis.
    static func counters(_ redis: RedisClient) async throws -> Set<String> {
        Set(try await redis.send(["KEYS", "gh:*"]).array?.compactMap(\.string) ?? [])
    }

    @Test func ipIsOneCounterPerAddressEvenForTokenHolders() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            let alice = Self.claims("alice")
            #expect(await Self.allowed(gate, "by_ip", Self.request(from: "203.0.113.1"), claims: alice))
            #expect(await Self.allowed(gate, "by_ip", Self.request(from: "203.0.113.2"), claims: alice), "alice from another address")
            #expect(!(await Self.allowed(gate, "by_ip", Self.request(from: "203.0.113.1"))), "anyone else from the first address")
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_ip:{203.0.113.1}"), "\(counters)")
        }
    }

    @Test func subIsOneCounterPerSubjectAndAnAnonymousCallerCountsByAddress() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            #expect(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.1"), claims: Self.claims("alice")))
            #expect(!(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.9"), claims: Self.claims("alice"))), "alice, from anywhere")
            #expect(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.1"), claims: Self.claims("bob")))
            // Without a token, `sub` is the caller's address: anonymous callers never share one counter.
            #expect(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.1"), tier: "anonymous"))
            #expect(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.2"), tier: "anonymous"))
            #expect(!(await Self.allowed(gate, "by_sub", Self.request(from: "203.0.113.2"), tier: "anonymous")))
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_sub:{alice}"), "\(counters)")
            #expect(counters.contains("gh:by_sub:{ip:203.0.113.2}"), "\(counters)")
        }
    }

    @Test func clientIDIsOneCounterPerClientAcrossItsUsers() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            #expect(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.1"), claims: Self.claims("alice", client: "mobile")))
            #expect(!(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.2"), claims: Self.claims("bob", client: "mobile"))), "bob through the same client")
            #expect(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.2"), claims: Self.claims("bob", client: "web")))
            // A token without a client: its subject's own counter, never one shared by every client-less token.
            #expect(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.1"), claims: Self.claims("carol")))
            #expect(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.1"), claims: Self.claims("dave")))
            #expect(!(await Self.allowed(gate, "by_client", Self.request(from: "203.0.113.1"), claims: Self.claims("dave"))))
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_client:{mobile}"), "\(counters)")
            #expect(counters.contains("gh:by_client:{sub:dave}"), "\(counters)")
        }
    }

    @Test func roleIsOneCounterPerTierSharedByEveryoneInIt() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            #expect(await Self.allowed(gate, "by_role", Self.request(from: "203.0.113.1"), claims: Self.claims("alice"), tier: "user"))
            #expect(!(await Self.allowed(gate, "by_role", Self.request(from: "203.0.113.2"), claims: Self.claims("bob"), tier: "user")), "bob is in the same tier")
            #expect(await Self.allowed(gate, "by_role", Self.request(from: "203.0.113.1"), claims: Self.claims("root"), tier: "admin"))
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_role:{user}"), "\(counters)")
        }
    }

    @Test func apiKeyIsOneCounterPerKeyStoredOnlyAsAHash() async throws {
        try await withEdgeLimiter(catalog: Self.catalog, apiKeyHeader: "x-api-key") { gate, _, redis in
            #expect(await Self.allowed(gate, "by_api_key", Self.request(from: "203.0.113.1", apiKey: "key-one"), tier: "anonymous"))
            #expect(!(await Self.allowed(gate, "by_api_key", Self.request(from: "203.0.113.2", apiKey: "key-one"), tier: "anonymous")), "the same key from elsewhere")
            #expect(await Self.allowed(gate, "by_api_key", Self.request(from: "203.0.113.1", apiKey: "key-two"), tier: "anonymous"))
            // Without the header: the caller's own counter (its address), never one shared by every keyless caller.
            #expect(await Self.allowed(gate, "by_api_key", Self.request(from: "203.0.113.3"), tier: "anonymous"))
            #expect(await Self.allowed(gate, "by_api_key", Self.request(from: "203.0.113.4"), tier: "anonymous"))
            // SHA-256("key-one"), first 16 bytes: the key itself never reaches Redis.
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_api_key:{\(Self.keyOneHash)}"), "\(counters)")
            #expect(!counters.contains { $0.contains("key-one") }, "the key itself never reaches Redis")
            #expect(counters.contains("gh:by_api_key:{ip:203.0.113.3}"), "\(counters)")
        }
    }

    @Test func routeIsOneCounterPerRouteTemplateForAllCallers() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            #expect(await Self.allowed(gate, "by_route", Self.request(from: "203.0.113.1"), claims: Self.claims("alice"), route: "/v1/{collection}"))
            #expect(!(await Self.allowed(gate, "by_route", Self.request(from: "203.0.113.2"), route: "/v1/{collection}", tier: "anonymous")), "anyone on that route")
            #expect(await Self.allowed(gate, "by_route", Self.request(from: "203.0.113.1"), claims: Self.claims("alice"), route: "/v1/{collection}/{id}"))
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_route:{/v1/{collection}}"), "\(counters)")
        }
    }

    @Test func subAndMethodIsOneCounterPerSubjectAndMethodWithHeadCountedAsGet() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, _, redis in
            let alice = Self.claims("alice")
            #expect(await Self.allowed(gate, "by_sub_method", Self.request("GET", from: "203.0.113.1"), claims: alice))
            #expect(!(await Self.allowed(gate, "by_sub_method", Self.request("HEAD", from: "203.0.113.1"), claims: alice)), "HEAD is served as GET")
            #expect(await Self.allowed(gate, "by_sub_method", Self.request("PUT", from: "203.0.113.1"), claims: alice))
            #expect(await Self.allowed(gate, "by_sub_method", Self.request("GET", from: "203.0.113.1"), claims: Self.claims("bob")))
            let counters = try await Self.counters(redis)
            #expect(counters.contains("gh:by_sub_method:{alice|GET}"), "\(counters)")
        }
    }

    /// The edge's memory of denials is per (policy, key value): a `[sub, route]` denial on one route does not
    /// refuse the same caller on another, and a second denial on the first route needs no limiter call.
    @Test func aRememberedDenialOfOneRouteLeavesTheCallersOtherRoutesAlone() async throws {
        let catalog = try PolicyCatalog(yaml: "policies:\n  - {name: per_route, limit: 1, period: 1h, key: [sub, route]}\n", source: "p.yaml")
        try await withEdgeLimiter(catalog: catalog) { gate, counts, _ in
            let alice = Self.claims("alice")
            #expect(await Self.allowed(gate, "per_route", Self.request(from: "203.0.113.1"), claims: alice, route: "/v1/{collection}"))
            #expect(!(await Self.allowed(gate, "per_route", Self.request(from: "203.0.113.1"), claims: alice, route: "/v1/{collection}")))
            let calls = counts.snapshot.values.reduce(0, +)
            #expect(!(await Self.allowed(gate, "per_route", Self.request(from: "203.0.113.1"), claims: alice, route: "/v1/{collection}")))
            #expect(counts.snapshot.values.reduce(0, +) == calls, "the repeat was answered from the edge's memory")
            #expect(await Self.allowed(gate, "per_route", Self.request(from: "203.0.113.1"), claims: alice, route: "/v1/{collection}/{id}"))
        }
    }

    /// `printf %s key-one | sha256sum | cut -c1-32`.
    static let keyOneHash = "9b346041bc9a49574eb2665b2ad2a0a3"
}

/// The key value a policy's parts make of one request's values (docs/configuration.md, "Key parts").
struct PolicyKeyValuesTests {
    @Test func partsAreJoinedInThePolicysOrderAndAMissingPartIsTheCallersOwnIdentity() {
        let alice = PolicyKeyValues(ip: "203.0.113.7", subject: "alice", role: "user", route: "/v1/{collection}", method: "GET")
        #expect(alice.key([.sub, .route]) == "alice|/v1/{collection}")
        #expect(alice.key([.route, .sub]) == "/v1/{collection}|alice")
        #expect(alice.key([.clientID]) == "sub:alice", "a token without a client_id: the subject, marked")
        #expect(alice.key([.apiKey, .method]) == "sub:alice|GET")
        let anonymous = PolicyKeyValues(ip: "2001:db8::1", role: "anonymous")
        #expect(anonymous.key([.sub]) == "ip:2001:db8::1")
        #expect(anonymous.key([.ip, .role]) == "2001:db8::1|anonymous")
    }

    @Test func aValueCannotPassForAnotherPartOrForAMissingOne() {
        // A subject holding the separator or the marker would otherwise equal another request's key.
        #expect(PolicyKeyValues(ip: "1.2.3.4", subject: "a|b").key([.sub, .route]) != PolicyKeyValues(ip: "1.2.3.4", subject: "a", route: "b").key([.sub, .route]))
        #expect(PolicyKeyValues(ip: "1.2.3.4", subject: "ip:1.2.3.4").key([.sub]) != PolicyKeyValues(ip: "1.2.3.4").key([.sub]))
        #expect(PolicyKeyValues(ip: "1.2.3.4", subject: "a%7Cb").key([.sub]) != PolicyKeyValues(ip: "1.2.3.4", subject: "a|b").key([.sub]))
        #expect(PolicyKeyValues(ip: "1.2.3.4", subject: "a|b:c%").key([.sub]) == "a%7Cb%3Ac%25")
    }
}
