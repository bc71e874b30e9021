import GatehouseConfig
import GatehouseObservability
import Logging
import Testing

@Suite struct ObservabilityConfigurationTests {
    @Test func logAndAdminKeysAreReadWithDefaults() throws {
        var document = try ConfigDocument(
            yaml: "log:\n  format: json\n",
            source: "edge.yaml",
            environment: ["EDGE_ADMIN_PORT": "9100"],
            prefix: "EDGE"
        )
        let configuration = try ObservabilityConfiguration(reading: &document, defaultAdminPort: 9000)
        #expect(configuration.logFormat == .json)
        #expect(configuration.logLevel == .info)
        #expect(configuration.adminHost == "127.0.0.1")
        #expect(configuration.adminPort == 9100)
    }

    @Test func anUnknownLogFormatListsTheAllowedOnes() throws {
        var document = try ConfigDocument(yaml: "log:\n  format: xml\n", source: "edge.yaml")
        let error = #expect(throws: ConfigError.self) { try ObservabilityConfiguration(reading: &document, defaultAdminPort: 9000) }
        #expect(error?.description.contains("\"text\", \"json\"") == true)
    }
}
