import GatehouseConfig
import GatehouseLimiterPolicies
import GatehouseObservability

/// What the edge router starts from: its configuration and the route and policy files it names, loaded
/// and checked against each other.
package struct EdgeRouterSetup: ServiceSetup {
    package static let environmentPrefix = EdgeConfiguration.environmentPrefix

    /// The configuration.
    package var configuration: EdgeConfiguration
    /// The route and policy files, as loaded at start; reloads put new pairs in force here.
    package var files: EdgePolicyFiles

    /// Reads the configuration, loads its route and policy files and checks the JWKS URL.
    /// - Parameter document: The file and `EDGE_*` variables.
    /// - Throws: The configuration's or the files' problems.
    package init(reading document: inout ConfigDocument) throws {
        self.configuration = try EdgeConfiguration(reading: &document)
        self.files = try EdgePolicyFiles(
            routesFile: self.configuration.routesFile, policiesFile: self.configuration.policiesFile,
            failurePolicy: self.configuration.failurePolicy, apiKeyHeader: self.configuration.apiKeyHeader
        )
        _ = try JWKSFetcher(url: self.configuration.jwksURL)
    }

    package var observability: ObservabilityConfiguration {
        self.configuration.observability
    }

    package var checkSummary: String {
        let inForce = self.files.inForce
        return "configuration ok (\(inForce.routes.routes.count) routes, \(inForce.policies.policies.count) policies)"
    }
}
