import GatehouseConfig
import GatehouseRPC
import Testing

@Suite struct RPCConfigurationReadingTests {
    @Test func theServerSectionIsReadFromTheFileAndTheSecretFromTheEnvironment() throws {
        var document = try ConfigDocument(
            yaml: """
            rpc:
              port: 7001
              max_in_flight: 32
              handshake_timeout_ms: 750
            """,
            source: "limiter.yaml",
            environment: ["LIMITER_RPC_SECRET": "a-secret-of-enough-length"],
            prefix: "LIMITER"
        )
        let configuration = try RPCServerConfiguration(reading: &document, defaultPort: 7000)
        #expect(configuration.port == 7001)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.maximumInFlightPerConnection == 32)
        #expect(configuration.handshakeTimeout == .milliseconds(750))
        #expect(configuration.maximumFrameBytes == 4 * 1024 * 1024)
        try document.rejectUnknownKeys(valid: document.readKeys)
    }

    @Test func aMissingSecretNamesTheKeyAndTheVariable() throws {
        var document = try ConfigDocument(yaml: "", source: "limiter.yaml", environment: [:], prefix: "LIMITER")
        let error = #expect(throws: ConfigError.self) { try RPCServerConfiguration(reading: &document, defaultPort: 7000) }
        #expect(error?.description.contains("rpc.secret") == true)
        #expect(error?.description.contains("LIMITER_RPC_SECRET") == true)
    }

    @Test func aPeerSectionGivesTheClientItsAddressAndTimeouts() throws {
        var document = try ConfigDocument(
            yaml: """
            rpc.secret: a-secret-of-enough-length
            limiter:
              host: limiter.internal
              call_timeout_ms: 50
            data:
              max_frame_bytes: 8388608
            """,
            source: "edge.yaml",
            environment: ["EDGE_LIMITER_PORT": "7100"],
            prefix: "EDGE"
        )
        let configuration = try RPCClientConfiguration(reading: &document, section: "limiter", defaultPort: 7000, clientName: "edge-router")
        #expect(configuration.host == "limiter.internal")
        #expect(configuration.port == 7100)
        #expect(configuration.defaultCallTimeout == .milliseconds(50))
        #expect(configuration.clientName == "edge-router")
        #expect(configuration.maximumFrameBytes == 4 * 1024 * 1024)
        let data = try RPCClientConfiguration(reading: &document, section: "data", defaultPort: 7102, clientName: "edge-router")
        #expect(data.maximumFrameBytes == 8 * 1024 * 1024)
        try document.rejectUnknownKeys(valid: document.readKeys)
    }

    @Test func anOutOfRangeValueNamesTheKey() throws {
        var document = try ConfigDocument(
            yaml: "rpc:\n  secret: a-secret-of-enough-length\n  max_in_flight: 0\n",
            source: "limiter.yaml"
        )
        let error = #expect(throws: ConfigError.self) { try RPCServerConfiguration(reading: &document, defaultPort: 7000) }
        #expect(error?.description.contains("limiter.yaml:3") == true)
        #expect(error?.description.contains("rpc.max_in_flight") == true)
    }
}
