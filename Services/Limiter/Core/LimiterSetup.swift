import GatehouseConfig
import GatehouseLimiterPolicies
import GatehouseObservability

/// What the limiter starts from: its configuration and the policy file it names, both read and checked.
package struct LimiterSetup: ServiceSetup {
    package static let environmentPrefix = LimiterConfiguration.environmentPrefix

    /// The configuration.
    package var configuration: LimiterConfiguration
    /// The policies of `policies.file`, as loaded at start.
    package var catalog: PolicyCatalog

    /// Reads the configuration and loads its policy file.
    /// - Parameter document: The file and `LIMITER_*` variables.
    /// - Throws: The configuration's or the policy file's problems.
    package init(reading document: inout ConfigDocument) throws {
        self.configuration = try LimiterConfiguration(reading: &document)
        self.catalog = try PolicyCatalog.load(path: self.configuration.policyFile)
    }

    package var observability: ObservabilityConfiguration {
        self.configuration.observability
    }

    package var checkSummary: String {
        "configuration ok (\(self.catalog.policies.count) policies)"
    }
}
