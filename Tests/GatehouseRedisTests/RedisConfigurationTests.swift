import GatehouseConfig
import GatehouseRedis
import Testing

@Suite("redis.mode and the keys of each mode as every service reads them")
struct RedisConfigurationTests {
    /// Reads the `redis.*` keys of `yaml` and `environment` (prefix `LIMITER`) as a service does, strict keys included.
    private func read(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> RedisConfiguration {
        var document = try ConfigDocument(yaml: yaml, source: "limiter.yaml", environment: environment, prefix: "LIMITER")
        let configuration = try RedisConfiguration(reading: &document)
        try document.rejectUnknownKeys(valid: document.readKeys)
        return configuration
    }

    private func refusal(_ yaml: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try self.read(yaml, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theDefaultIsOneServer() throws {
        let configuration = try self.read("redis: {host: redis.internal, port: 6380}")
        #expect(configuration.topology == .single)
        #expect(configuration.host == "redis.internal")
        #expect(configuration.port == 6380)
        #expect(try self.read("redis.mode: single").topology == .single)
    }

    @Test func sentinelModeFromTheFile() throws {
        let configuration = try self.read(
            """
            redis:
              mode: sentinel
              sentinel:
                addresses: [10.0.0.5:26379, "sentinel-b:26380", "[::1]:26381"]
                master_name: gatehouse
            """
        )
        #expect(
            configuration.topology == .sentinel(
                masterName: "gatehouse",
                sentinels: [
                    RedisServerAddress(host: "10.0.0.5", port: 26379), RedisServerAddress(host: "sentinel-b", port: 26380),
                    RedisServerAddress(host: "::1", port: 26381),
                ]
            )
        )
    }

    @Test func sentinelModeFromTheEnvironmentAlone() throws {
        let configuration = try self.read(
            "",
            environment: [
                "LIMITER_REDIS_MODE": "sentinel", "LIMITER_REDIS_SENTINEL_ADDRESSES": "s1:26379, s2:26379",
                "LIMITER_REDIS_SENTINEL_MASTER_NAME": "gatehouse",
                // An empty variable is unset: compose passes its Redis host variable empty in sentinel mode.
                "LIMITER_REDIS_HOST": "",
            ]
        )
        #expect(
            configuration.topology == .sentinel(
                masterName: "gatehouse",
                sentinels: [RedisServerAddress(host: "s1", port: 26379), RedisServerAddress(host: "s2", port: 26379)]
            )
        )
    }

    @Test func sentinelModeWithoutAddressesOrMasterNameIsRefusedNamingTheKey() {
        let noAddresses = self.refusal("redis: {mode: sentinel, sentinel: {master_name: gatehouse}}")
        #expect(noAddresses?.contains("key 'redis.sentinel.addresses' is required") == true, "\(noAddresses ?? "accepted")")
        #expect(noAddresses?.contains("LIMITER_REDIS_SENTINEL_ADDRESSES") == true)
        let noName = self.refusal("redis: {mode: sentinel, sentinel: {addresses: [s1:26379]}}")
        #expect(noName?.contains("key 'redis.sentinel.master_name' is required") == true, "\(noName ?? "accepted")")
    }

    @Test(arguments: ["s1", "s1:0", "s1:65536", ":26379", "s1:port", "::1:26379", "s 1:26379"])
    func aSentinelAddressThatIsNotHostColonPortIsRefused(address: String) {
        let refused = self.refusal(
            "redis: {mode: sentinel, sentinel: {master_name: gatehouse, addresses: [\"s0:26379\", \"\(address)\"]}}"
        )
        #expect(refused?.contains("key 'redis.sentinel.addresses'") == true, "\(refused ?? "accepted")")
        #expect(refused?.contains("the item \(String(reflecting: address))") == true, "\(refused ?? "accepted")")
    }

    @Test func aSentinelKeyInSingleModeIsRefused() {
        let file = self.refusal("redis: {sentinel: {master_name: gatehouse}}")
        #expect(file?.contains("limiter.yaml:1: key 'redis.sentinel.master_name': must not be set") == true, "\(file ?? "accepted")")
        #expect(file?.contains("only read when redis.mode is sentinel") == true)
        let variable = self.refusal("", environment: ["LIMITER_REDIS_SENTINEL_ADDRESSES": "s1:26379"])
        #expect(
            variable?.contains("environment variable LIMITER_REDIS_SENTINEL_ADDRESSES: key 'redis.sentinel.addresses': must not be set") == true,
            "\(variable ?? "accepted")"
        )
    }

    @Test func aServerAddressInSentinelModeIsRefused() {
        let refused = self.refusal(
            "redis: {mode: sentinel, host: redis, sentinel: {master_name: gatehouse, addresses: [s1:26379]}}"
        )
        #expect(refused?.contains("key 'redis.host': must not be set: it is only read when redis.mode is single") == true, "\(refused ?? "accepted")")
    }

    @Test func anUnknownModeIsRefused() {
        let refused = self.refusal("redis.mode: replicated")
        #expect(refused?.contains("key 'redis.mode': expected one of \"single\", \"cluster\", \"sentinel\", got \"replicated\"") == true, "\(refused ?? "accepted")")
    }
}
