import GatehouseLimiterPolicies
import Foundation
import LimiterCore
import Testing

@Suite struct PolicyCatalogTests {
    private func fixture(_ name: String) throws -> String {
        try #require(Bundle.module.path(forResource: name, ofType: "yaml", inDirectory: "Fixtures"))
    }

    @Test func aValidFileGivesEveryPolicy() throws {
        let catalog = try PolicyCatalog.load(path: try self.fixture("valid"))
        #expect(catalog.replicas == 2)
        #expect(catalog.policies.count == 4)
        let publicPolicy = try #require(catalog.policies["public"])
        #expect(publicPolicy == RateLimitPolicy(name: "public", limit: 20, period: .seconds(60), key: [.ip]))
        let user = try #require(catalog.policies["user"])
        #expect(user.algorithm == .tokenBucket)
        #expect(user.burst == 50)
        #expect(user.onRedisFailure == .local)
        let admin = try #require(catalog.policies["admin"])
        #expect(admin.shadow)
        #expect(admin.key == [.sub, .route])
        #expect(admin.burst == 1000, "burst defaults to the limit")
        #expect(catalog.lines["admin"] == 14, "the line of each policy, for the edge's messages")
    }

    @Test(
        "each bad file names its line, field and problem",
        arguments: [
            ("unknown_algorithm", "unknown_algorithm.yaml:3: policies[0].algorithm: unknown algorithm \"leaky_bucket\"; expected one of gcra, token_bucket, sliding_window, fixed_window"),
            ("negative_limit", "negative_limit.yaml:3: policies[0].limit: must be in 1...1000000000, got -5"),
            ("unknown_key_part", "unknown_key_part.yaml:5: policies[0].key: unknown key part \"user_agent\"; expected any of ip, sub, client_id, role, api_key, route, method"),
            ("duplicate_name", "duplicate_name.yaml:6: policies[1].name: duplicate policy name \"public\""),
            ("misspelled_key", "misspelled_key.yaml:4: policies[0].peroid: unknown key 'peroid'; did you mean 'period'?"),
            // Tiers live in the edge's route file: a `tiers` section here would be parsed and never used.
            ("tiers_section", "tiers_section.yaml:6: tiers: tiers are not read from the policy file: they live in the edge router's route file (routes.file, its 'tiers' and each route's); remove this section"),
            ("repeated_key_part", "repeated_key_part.yaml:5: policies[0].key: key part \"sub\" is listed twice"),
            ("bad_period", "bad_period.yaml:4: policies[0].period: expected a duration such as 500ms, 30s, 1m or 1h (at most 24h), got \"1 minute\""),
        ]
    )
    func badFilesAreRejected(name: String, expected: String) throws {
        let path = try self.fixture(name)
        let error = #expect(throws: PolicyFileError.self) { try PolicyCatalog.load(path: path) }
        let message = error?.description.replacingOccurrences(of: path, with: "\(name).yaml")
        #expect(message?.contains(expected) == true, "got: \(message ?? "no error")")
    }

    @Test func everyProblemIsReportedAtOnce() throws {
        let yaml = """
            policies:
              - name: a
                limit: 0
                period: 1m
                key: [ip]
              - name: b
                algorithm: nope
                limit: 10
                period: 1m
                key: []
            """
        let error = #expect(throws: PolicyFileError.self) { try PolicyCatalog(yaml: yaml, source: "p.yaml") }
        #expect(error?.problems.count == 3)
    }

    @Test func aMissingFileNamesThePath() {
        let error = #expect(throws: PolicyFileError.self) { try PolicyCatalog.load(path: "/nonexistent/policies.yaml") }
        #expect(error?.description.contains("/nonexistent/policies.yaml") == true)
    }
}
