import GatehouseConfig
import GatehouseTestSupport
import Testing

/// Kubernetes service-link variables never stop a service; everything else under its prefix is still read
/// or refused as before.
@Suite("ConfigDocument: Kubernetes service links")
struct KubernetesServiceLinkTests {
    static func settings(yaml: String = "", environment: [String: String]) throws(ConfigError) -> (LimiterSettings, [ConfigNotice]) {
        var document = try ConfigDocument(yaml: yaml, source: "limiter.yaml", environment: environment, prefix: "LIMITER")
        let settings = try LimiterSettings(document: &document)
        return (settings, document.notices)
    }

    @Test("the service links of a namespace running Gatehouse are ignored, each with a debug notice")
    func aWholeNamespacesLinksAreIgnored() throws {
        let environment = KubernetesServiceLinkEnvironment.gatehouseNamespace
        #expect(environment["LIMITER_PORT"] == "tcp://10.96.0.10:7101")
        #expect(environment["LIMITER_REDIS_PORT_6379_TCP_ADDR"] == "10.96.0.17")
        let (settings, notices) = try Self.settings(environment: environment.merging(["LIMITER_LOG_FORMAT": "json"]) { $1 })
        #expect(settings.logFormat == "json", "a real variable next to the links is read")
        #expect(settings.redisPort == 6379)
        let debug = notices.filter { $0.severity == .debug }.map(\.message)
        #expect(debug.contains("environment variable LIMITER_SERVICE_HOST is a Kubernetes service link, not a configuration key: ignored"))
        #expect(debug.contains("environment variable LIMITER_PORT_9101_TCP_PROTO is a Kubernetes service link, not a configuration key: ignored"))
        #expect(debug.contains("environment variable LIMITER_REDIS_SERVICE_PORT_REDIS is a Kubernetes service link, not a configuration key: ignored"))
        #expect(debug.count == environment.keys.count { $0.hasPrefix("LIMITER_") } - 1, "every LIMITER_ link but LIMITER_REDIS_PORT: \(debug)")
        #expect(notices.filter { $0.severity == .warning }.map(\.message).allSatisfy { $0.hasPrefix("environment variable LIMITER_REDIS_PORT=tcp://10.96.0.17:6379 is") })
    }

    @Test("a link that lands on a key ending in _PORT is ignored with a warning, and the file's value stays")
    func aLinkOnAPortKeyIsIgnoredWithAWarning() throws {
        let (settings, notices) = try Self.settings(yaml: "redis:\n  port: 6380\n", environment: ["LIMITER_REDIS_PORT": "tcp://10.96.0.17:6379"])
        #expect(settings.redisPort == 6380)
        #expect(
            notices.map(\.message) == [
                "environment variable LIMITER_REDIS_PORT=tcp://10.96.0.17:6379 is a Kubernetes service link (of a Service named like the variable), "
                    + "not a port: ignored, so 'redis.port' keeps its value from the file or its default. Set enableServiceLinks: false in the pod, "
                    + "or rename that Service, to silence this"
            ]
        )
        #expect(notices.map(\.severity) == [.warning])
        // A real port in that variable still wins over the file.
        #expect(try Self.settings(yaml: "redis:\n  port: 6380\n", environment: ["LIMITER_REDIS_PORT": "6390"]).0.redisPort == 6390)
    }

    @Test(
        "anything else under the prefix is refused as before",
        arguments: [
            ("LIMITER_REDIS_PROT", "1", "environment variable LIMITER_REDIS_PROT does not match any configuration key; did you mean 'LIMITER_REDIS_PORT'?"),
            // Kubernetes writes a URL into <SERVICE>_PORT, never a bare number: this is a person's mistake.
            ("LIMITER_PORT", "7101", "environment variable LIMITER_PORT does not match any configuration key"),
            ("LIMITER_SERVICE_HOST", "limiter.local", "environment variable LIMITER_SERVICE_HOST does not match any configuration key"),
            ("LIMITER_SERVICE_PORT", "http", "environment variable LIMITER_SERVICE_PORT does not match any configuration key"),
            ("LIMITER_PORT_7101_TCP_PORT", "7102", "environment variable LIMITER_PORT_7101_TCP_PORT does not match any configuration key"),
            ("LIMITER_PORT_7101_TCP", "tcp://10.0.0.7:7102", "environment variable LIMITER_PORT_7101_TCP does not match any configuration key"),
            ("LIMITER_PORT_7101_HTTP_PROTO", "http", "environment variable LIMITER_PORT_7101_HTTP_PROTO does not match any configuration key"),
        ]
    )
    func othersAreStillRefused(variable: String, value: String, expected: String) {
        do throws(ConfigError) {
            _ = try Self.settings(environment: [variable: value])
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("a URL in a port key that is not a service link's address is a bad value, not ignored")
    func aURLThatIsNoLinkIsABadValue() {
        do throws(ConfigError) {
            _ = try Self.settings(environment: ["LIMITER_REDIS_PORT": "http://redis:6379"])
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("environment variable LIMITER_REDIS_PORT: key 'redis.port': expected an integer in 1...65535"))
        }
    }

    @Test(
        "each shape Kubernetes writes is recognised, with its value",
        arguments: [
            ("LIMITER_SERVICE_HOST", "fd00::17", true), ("LIMITER_SERVICE_PORT_RPC_PORT", "7101", true),
            ("LIMITER_PORT", "udp://10.0.0.7:53", true), ("LIMITER_PORT", "sctp://[fd00::7]:9", true),
            ("LIMITER_X_PORT_53_UDP", "udp://10.0.0.7:53", true), ("LIMITER_X_PORT_53_UDP", "tcp://10.0.0.7:53", false),
            ("LIMITER_X_PORT_9_SCTP_ADDR", "fd00::7", true), ("LIMITER_X_PORT_9_SCTP_PROTO", "sctp", true),
            ("LIMITER_X_PORT_9_SCTP_PROTO", "tcp", false), ("LIMITER_SERVICE_PORT", "0", false), ("LIMITER_SERVICE_PORT", "70000", false),
            ("LIMITER_PORT", "tcp://10.0.0.7", false), ("LIMITER__PORT", "tcp://10.0.0.7:1", false),
        ]
    )
    func shapes(variable: String, value: String, isLink: Bool) {
        let accepted = (try? Self.settings(environment: [variable: value])) != nil
        #expect(accepted == isLink, "\(variable)=\(value)")
    }
}

/// Renamed keys: the old name still works for a release, with a warning; both at once is an error.
@Suite("ConfigDocument: renamed keys")
struct RenamedKeyTests {
    static func read(yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> (String, [ConfigNotice]) {
        var document = try ConfigDocument(yaml: yaml, source: "edge.yaml", environment: environment, prefix: "EDGE")
        try document.acceptFormerName("fallback.policies_file", of: "policies.file")
        let value = try document.string("policies.file", default: "config/policies.yaml")
        try document.rejectUnknownKeys(valid: document.readKeys)
        return (value, document.notices)
    }

    @Test func theOldNameSetsTheNewKeyWithAWarning() throws {
        let (fromFile, notices) = try Self.read(yaml: "fallback:\n  policies_file: p.yaml\n")
        #expect(fromFile == "p.yaml")
        #expect(notices.map(\.message) == ["edge.yaml:2: key 'fallback.policies_file' is deprecated and will be refused in the next release; set 'policies.file' (or EDGE_POLICIES_FILE) instead"])
        #expect(notices.map(\.severity) == [.warning])
        #expect(try Self.read(yaml: "", environment: ["EDGE_FALLBACK_POLICIES_FILE": "q.yaml"]).0 == "q.yaml")
        #expect(try Self.read(yaml: "policies:\n  file: r.yaml\n").0 == "r.yaml")
        #expect(try Self.read(yaml: "").0 == "config/policies.yaml")
    }

    @Test func bothNamesAtOnceAreRefused() {
        do throws(ConfigError) {
            _ = try Self.read(yaml: "policies:\n  file: r.yaml\n", environment: ["EDGE_FALLBACK_POLICIES_FILE": "q.yaml"])
            Issue.record("accepted")
        } catch {
            #expect(error.description == "environment variable EDGE_FALLBACK_POLICIES_FILE: key 'fallback.policies_file' was renamed 'policies.file', which is set too (edge.yaml:2): remove 'fallback.policies_file'")
        }
    }
}
