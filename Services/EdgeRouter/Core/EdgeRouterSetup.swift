import GatehouseLimiterPolicies
import GatehouseObservability

/// What the edge router starts from: its configuration and the route and policy files it names, loaded
/// and checked against each other.
package typealias EdgeRouterSetup = ConfigurationWithFiles<EdgeConfiguration>

extension EdgeConfiguration: ConfigurationNamingFiles {
    /// Loads `routes.file` and `policies.file` and checks them against each other.
    /// - Returns: The pair, which reloads put new pairs in force in.
    /// - Throws: The files' problems.
    package func loadFiles() throws -> EdgePolicyFiles {
        try EdgePolicyFiles(routesFile: self.routesFile, policiesFile: self.policiesFile, failurePolicy: self.failurePolicy, apiKeyHeader: self.apiKeyHeader)
    }

    /// `12 routes, 3 policies`.
    package func checkSummary(of files: EdgePolicyFiles) -> String {
        let inForce = files.inForce
        return "\(inForce.routes.routes.count) routes, \(inForce.policies.policies.count) policies"
    }
}
