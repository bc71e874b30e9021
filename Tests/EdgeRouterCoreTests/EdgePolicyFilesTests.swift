import EdgeRouterCore
import Foundation
import GatehouseLimiterPolicies
import GatehouseObservability
import GatehouseTestSupport
import Logging
import Synchronization
import Testing

/// The route file and the policy file must agree, at start and on every reload.
struct EdgePolicyFilesTests {
    static let policies = """
        policies:
          - {name: public, limit: 20, period: 1m, key: [ip]}
          - {name: user, limit: 200, period: 1m, key: [sub]}
          - {name: auth_failures, limit: 10, period: 1m, key: [ip]}
        """
    static let routes = "routes:\n  - {path: \"/v1/{collection}\", methods: [GET], auth: optional}\ntiers:\n  anonymous: [public]\n  user: [user]\n"

    /// A folder holding `routes.yaml` and `policies.yaml`.
    static func folder(routes: String = Self.routes, policies: String = Self.policies) throws -> TestFolder {
        let folder = try TestFolder()
        try folder.write("routes.yaml", routes)
        try folder.write("policies.yaml", policies)
        return folder
    }

    static func load(_ folder: TestFolder, failurePolicy: String? = "auth_failures", apiKeyHeader: String? = nil) throws -> EdgePolicyFiles {
        try EdgePolicyFiles(
            routesFile: folder.path("routes.yaml"), policiesFile: folder.path("policies.yaml"), failurePolicy: failurePolicy, apiKeyHeader: apiKeyHeader
        )
    }

    static func problems(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func aTierNamingAPolicyThePolicyFileLacksIsRefusedWithItsLineTierAndPolicy() throws {
        let folder = try Self.folder(routes: Self.routes.replacingOccurrences(of: "user: [user]", with: "user: [usr]"))
        let message = Self.problems { _ = try Self.load(folder) }
        #expect(
            message == "\(folder.path("routes.yaml")):5: tiers.user: tier \"user\" names the policy \"usr\", which the policy file "
                + "\(folder.path("policies.yaml")) does not define; did you mean \"user\"?"
        )
    }

    @Test func aRoutesOwnTierIsCheckedToo() throws {
        let routes = "routes:\n  - path: /v1/{collection}\n    methods: [GET]\n    tiers: {authenticated: [user, burst]}\n"
        let folder = try Self.folder(routes: routes)
        let message = Self.problems { _ = try Self.load(folder) }
        #expect(
            message == "\(folder.path("routes.yaml")):4: routes[0].tiers.authenticated: tier \"authenticated\" names the policy \"burst\", "
                + "which the policy file \(folder.path("policies.yaml")) does not define"
        )
    }

    @Test func theFailurePolicyMustBeInThePolicyFile() throws {
        let folder = try Self.folder()
        #expect(Self.problems { _ = try Self.load(folder, failurePolicy: "auth_failure") }.hasPrefix(
            "auth.failure_policy: the policy \"auth_failure\" is not in the policy file \(folder.path("policies.yaml")); did you mean \"auth_failures\"?"
        ))
        #expect(Self.problems { _ = try Self.load(folder, failurePolicy: nil) } == "", "none: nothing to check")
    }

    @Test func aPolicyKeyedByAPIKeyNeedsTheHeaderSetting() throws {
        let folder = try Self.folder(policies: Self.policies + "\n  - {name: partner, limit: 100, period: 1m, key: [api_key]}\n")
        #expect(
            Self.problems { _ = try Self.load(folder) }
                == "\(folder.path("policies.yaml")):5: policy \"partner\" is keyed by api_key, but the edge has no policies.api_key_header "
                + "(the request header that carries the API key): set it, or take api_key out of the policy's key"
        )
        #expect(Self.problems { _ = try Self.load(folder, apiKeyHeader: "x-api-key") } == "")
    }

    /// A reloaded route file that names an unknown policy, or a reloaded policy file that drops one the routes
    /// name, is refused through the reloader (logged and counted) and the pair in force stays.
    @Test func aReloadThatWouldBreakTheAgreementIsRefusedAndThePairInForceStays() throws {
        let folder = try Self.folder()
        let files = try Self.load(folder)
        let applied = Mutex(0)
        let apply: @Sendable (EdgePolicyFiles.InForce) -> Void = { _ in applied.withLock { $0 += 1 } }
        let logger = Logger(label: "test.edge-policy-files")
        let routeReloader = FileReloader(
            path: folder.path("routes.yaml"),
            naming: .init(service: "test", entry: "route", entries: "routes"),
            inForce: 1, watchInterval: nil, hangups: nil, logger: logger
        ) { _ in try files.reloadRoutes(apply: apply).routes.routes.count }
        let policyReloader = FileReloader(
            path: folder.path("policies.yaml"),
            naming: .init(service: "test", entry: "policy", entries: "policies"),
            inForce: 3, watchInterval: nil, hangups: nil, logger: logger
        ) { _ in try files.reloadPolicies(apply: apply).policies.policies.count }

        try folder.write("routes.yaml", Self.routes.replacingOccurrences(of: "user: [user]", with: "user: [user, burst]"))
        guard case .rejected(let problems) = routeReloader.reload(force: false) else {
            Issue.record("a route file naming an unknown policy was put in force")
            return
        }
        #expect(problems.contains("tiers.user: tier \"user\" names the policy \"burst\""), "\(problems)")
        #expect(files.inForce.routes.routes[0].tier(forRoles: ["user"])?.policies == ["user"], "the routes in force stay")

        try folder.write("routes.yaml", Self.routes)
        try folder.write("policies.yaml", Self.policies.replacingOccurrences(of: "  - {name: user, limit: 200, period: 1m, key: [sub]}\n", with: ""))
        guard case .rejected(let dropped) = policyReloader.reload(force: false) else {
            Issue.record("a policy file lacking a policy the routes name was put in force")
            return
        }
        #expect(dropped.contains("names the policy \"user\""), "\(dropped)")
        #expect(files.inForce.policies.policies["user"] != nil, "the policies in force stay")
        #expect(applied.withLock { $0 } == 0)
    }

    /// A policy and the routes that use it, added to both files: whichever file is reloaded first brings the
    /// other along, so the order of the reloads does not matter.
    @Test func bothFilesChangedTogetherComeIntoForceTogether() throws {
        let folder = try Self.folder()
        let files = try Self.load(folder)
        try folder.write("policies.yaml", Self.policies + "\n  - {name: burst, limit: 5, period: 1s, key: [sub]}\n")
        try folder.write("routes.yaml", Self.routes.replacingOccurrences(of: "user: [user]", with: "user: [user, burst]"))
        let inForce = try files.reloadRoutes { _ in }
        #expect(inForce.policies.policies["burst"] != nil)
        #expect(inForce.routes.routes[0].tier(forRoles: ["user"])?.policies == ["user", "burst"])
        #expect(files.inForce.policies.policies["burst"] != nil)
    }
}
