import Foundation
import GatehouseConfig
import Testing

/// A service configuration as a service would declare it: defaults in code, read from a ConfigDocument.
struct LimiterSettings: Equatable {
    var redisHost = "localhost"
    var redisPort = 6379
    var redisTLS = false
    var commandTimeout = Duration.milliseconds(100)
    var maxFrameBytes = 1_048_576
    var burstFactor = 1.0
    var audiences: [String] = []
    var logFormat = "text"

    init() {}

    init(document: inout ConfigDocument) throws(ConfigError) {
        let defaults = LimiterSettings()
        self.redisHost = try document.string("redis.host", default: defaults.redisHost)
        self.redisPort = try document.int("redis.port", default: defaults.redisPort, range: 1...65535)
        self.redisTLS = try document.bool("redis.tls", default: defaults.redisTLS)
        self.commandTimeout = try document.duration(
            "redis.command_timeout_ms", default: defaults.commandTimeout, range: .milliseconds(1) ... .seconds(60))
        self.maxFrameBytes = try document.int("rpc.max_frame_bytes", default: defaults.maxFrameBytes, range: 1024...16_777_216)
        self.burstFactor = try document.double("limiter.burst_factor", default: defaults.burstFactor, range: 1...10)
        self.audiences = try document.stringList("auth.audiences", default: defaults.audiences)
        self.logFormat = try document.string("log.format", default: defaults.logFormat, allowed: ["text", "json"])
        try document.rejectUnknownKeys(valid: document.readKeys)
    }
}

/// The path of a fixture file shipped with the tests.
func fixture(_ name: String) throws -> String {
    let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return directory.appendingPathComponent(name).path
}

/// Loads a fixture (or nothing) with the LIMITER prefix and maps it; returns the error message if it fails.
func loadError(_ name: String?, environment: [String: String] = [:]) throws -> String? {
    let path = try name.map(fixture)
    do throws(ConfigError) {
        var document = try ConfigDocument.load(path: path, environment: environment, prefix: "LIMITER")
        _ = try LimiterSettings(document: &document)
        return nil
    } catch {
        return error.description
    }
}

@Suite("ConfigDocument: values")
struct ConfigDocumentValueTests {
    @Test("no file and no environment gives the defaults")
    func defaults() throws {
        var document = try ConfigDocument.load(path: nil, environment: ["PATH": "/bin"], prefix: "LIMITER")
        #expect(try LimiterSettings(document: &document) == LimiterSettings())
    }

    @Test("file values are read, nested and dotted keys alike; an empty value keeps the default")
    func fileValues() throws {
        var document = try ConfigDocument.load(path: fixture("valid.yaml"), environment: [:], prefix: "LIMITER")
        let settings = try LimiterSettings(document: &document)
        #expect(settings.redisHost == "redis.internal")
        #expect(settings.redisPort == 6380)
        #expect(settings.redisTLS)
        #expect(settings.commandTimeout == .milliseconds(250))
        #expect(settings.maxFrameBytes == 65536)
        #expect(settings.burstFactor == 1.5)
        #expect(settings.audiences == ["gatehouse", "admin"])
        #expect(settings.logFormat == "text")
    }

    @Test("environment variables override the file and are parsed to the requested type")
    func environmentOverrides() throws {
        let environment = [
            "LIMITER_REDIS_PORT": "7000",
            "LIMITER_REDIS_TLS": "0",
            "LIMITER_REDIS_COMMAND_TIMEOUT_MS": "1500",
            "LIMITER_RPC_MAX_FRAME_BYTES": "2048",
            "LIMITER_AUTH_AUDIENCES": " a, b ,,c ",
            "LIMITER_LOG_FORMAT": "json",
            "OTHER_REDIS_PORT": "1",
        ]
        var document = try ConfigDocument.load(path: fixture("valid.yaml"), environment: environment, prefix: "limiter")
        let settings = try LimiterSettings(document: &document)
        #expect(settings.redisHost == "redis.internal")
        #expect(settings.redisPort == 7000)
        #expect(!settings.redisTLS)
        #expect(settings.commandTimeout == .milliseconds(1500))
        #expect(settings.maxFrameBytes == 2048)
        #expect(settings.audiences == ["a", "b", "c"])
        #expect(settings.logFormat == "json")
    }

    @Test("keys map to PREFIX_KEY with dots as underscores")
    func environmentVariableNames() throws {
        let document = try ConfigDocument(yaml: "", source: "test", environment: [:], prefix: "LIMITER")
        #expect(document.environmentVariable(for: "rpc.max_frame_bytes") == "LIMITER_RPC_MAX_FRAME_BYTES")
        let withoutPrefix = try ConfigDocument(yaml: "", source: "test")
        #expect(withoutPrefix.environmentVariable(for: "redis.port") == nil)
    }

    @Test("booleans accept true/false, yes/no, on/off, 1/0 in any case", arguments: [
        ("true", true), ("YES", true), ("on", true), ("1", true),
        ("False", false), ("no", false), ("OFF", false), ("0", false),
    ])
    func booleans(text: String, expected: Bool) throws {
        var document = try ConfigDocument(yaml: "", source: "test", environment: ["SVC_FLAG": text], prefix: "SVC")
        #expect(try document.bool("flag", default: !expected) == expected)
    }

    @Test("a host is a DNS name, an IPv4 address or an IPv6 address; anything else names the key")
    func hosts() throws {
        for good in ["localhost", "redis", "redis.internal.", "my_service", "10.0.0.5", "0.0.0.0", "::1", "::", "fe80::1%eth0", "2001:db8::ffff:10.0.0.1", "a-b.c9"] {
            var document = try ConfigDocument(yaml: "redis: {host: \"\(good)\"}", source: "test")
            #expect(try document.host("redis.host", default: "x") == good)
        }
        for bad in ["bad host!", "999.1.1.1", "10.0.0", "-redis", "redis-", "a..b", "http://redis", "redis:6379", String(repeating: "a", count: 64) + ".com"] {
            var document = try ConfigDocument(yaml: "redis: {host: \"\(bad)\"}", source: "test")
            let error = #expect(throws: ConfigError.self, "\(bad)") { try document.host("redis.host", default: "x") }
            #expect(error?.description.contains("key 'redis.host': expected a host name, an IPv4 address or an IPv6 address") == true, "\(error?.description ?? "")")
        }
    }

    @Test("readKeys records every key an accessor asked for")
    func readKeys() throws {
        var document = try ConfigDocument(yaml: "a: 1", source: "test")
        _ = try document.int("a", default: 0)
        _ = try document.string("b", default: "")
        #expect(document.readKeys == ["a", "b"])
    }
}

@Suite("ConfigDocument: bad configuration")
struct ConfigDocumentErrorTests {
    @Test("a misspelled key names the key and line and suggests the valid one")
    func misspelledKey() throws {
        let message = try #require(try loadError("misspelled_key.yaml"))
        #expect(message.contains("misspelled_key.yaml:3"))
        #expect(message.contains("unknown key 'redis.prot'"))
        #expect(message.contains("did you mean 'redis.port'?"))
    }

    @Test("a value of the wrong type names file, line, key, expectation and value")
    func wrongType() throws {
        let message = try #require(try loadError("wrong_type.yaml"))
        #expect(message.hasSuffix(#"wrong_type.yaml:3: key 'redis.port': expected an integer in 1...65535, got "abc""#))
    }

    @Test("a value out of range names the range")
    func outOfRange() throws {
        let message = try #require(try loadError("out_of_range.yaml"))
        #expect(message.contains("out_of_range.yaml:2: key 'redis.port'"))
        #expect(message.contains(#"expected an integer in 1...65535, got "70000""#))
    }

    @Test("a YAML syntax error names the file and line")
    func syntaxError() throws {
        let message = try #require(try loadError("syntax_error.yaml"))
        #expect(message.contains("syntax_error.yaml:4"))
        #expect(message.contains("YAML syntax error"))
    }

    @Test("a top level that is not a mapping is rejected")
    func notAMapping() throws {
        let message = try #require(try loadError("not_a_mapping.yaml"))
        #expect(message.contains("not_a_mapping.yaml"))
        #expect(message.contains("the top level must be a mapping"))
        #expect(message.contains("found a list"))
    }

    @Test("a scalar where a list is expected is rejected")
    func scalarForList() throws {
        let message = try #require(try loadError("scalar_for_list.yaml"))
        #expect(message.contains("scalar_for_list.yaml:2: key 'auth.audiences': expected a list of strings"))
        #expect(message.contains(#"got "gatehouse""#))
    }

    @Test("a key defined twice, nested and dotted, is rejected")
    func duplicateKey() throws {
        let message = try #require(try loadError("duplicate_key.yaml"))
        #expect(message.contains("duplicate_key.yaml:3: key 'redis.port': defined twice"))
        #expect(message.hasSuffix("(first on line 2)"))
    }

    @Test("a quoted number is a string, not an integer")
    func quotedInteger() throws {
        let message = try #require(try loadError("quoted_integer.yaml"))
        #expect(message.contains(#"key 'redis.port': expected an integer in 1...65535, got the quoted string "6379""#))
    }

    @Test("an environment variable with the prefix that matches no key is rejected with a suggestion")
    func unknownEnvironmentVariable() throws {
        let message = try #require(try loadError("valid.yaml", environment: ["LIMITER_REDIS_PROT": "6379"]))
        #expect(message.contains("environment variable LIMITER_REDIS_PROT does not match any configuration key"))
        #expect(message.contains("did you mean 'LIMITER_REDIS_PORT'?"))
    }

    @Test("a bad environment value names the variable")
    func badEnvironmentValue() throws {
        let message = try #require(try loadError(nil, environment: ["LIMITER_REDIS_TLS": "maybe"]))
        #expect(message.contains("environment variable LIMITER_REDIS_TLS: key 'redis.tls': expected a boolean"))
        #expect(message.contains(#"got "maybe""#))
    }

    @Test("a value outside the allowed set lists the allowed values")
    func notAllowed() throws {
        let message = try #require(try loadError(nil, environment: ["LIMITER_LOG_FORMAT": "xml"]))
        #expect(message.contains(#"key 'log.format': expected one of "text", "json", got "xml""#))
    }

    @Test("a missing file names the path")
    func missingFile() throws {
        let message = try #require(try loadError("does_not_exist.yaml"))
        #expect(message.contains("does_not_exist.yaml' does not exist"))
    }

    @Test("all unknown keys are reported together, without a suggestion when nothing is close")
    func severalUnknownKeys() throws {
        var document = try ConfigDocument(yaml: "zzz: 1\nredis:\n  prot: 2\n", source: "svc.yaml")
        do throws(ConfigError) {
            try document.rejectUnknownKeys(valid: ["redis.port"])
            Issue.record("expected an error")
        } catch {
            let lines = error.description.split(separator: "\n")
            #expect(lines == ["svc.yaml:1: unknown key 'zzz'", "svc.yaml:3: unknown key 'redis.prot'; did you mean 'redis.port'?"])
        }
    }
}
