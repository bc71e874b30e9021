import GatehouseLimiterPolicies
import GatehouseObservability

/// What the limiter starts from: its configuration and the policy file it names, both read and checked.
package typealias LimiterSetup = ConfigurationWithFiles<LimiterConfiguration>

extension LimiterConfiguration: ConfigurationNamingFiles {
    /// Loads `policies.file`.
    /// - Returns: Its policies.
    /// - Throws: The policy file's problems.
    package func loadFiles() throws -> PolicyCatalog {
        try PolicyCatalog.load(path: self.policyFile)
    }

    /// `3 policies`.
    package func checkSummary(of catalog: PolicyCatalog) -> String {
        "\(catalog.policies.count) policies"
    }
}
