import Foundation
import GatehouseTestSupport
import Testing
import Yams

/// The docker compose deployment in `compose/`: its files, and the compose file as docker-compose 1.29.2
/// interprets it with `compose/env.example` as the env file.
enum ComposeDeployment {
    /// The `compose/` folder.
    static let folder = TestEnvironment.packageRoot.appendingPathComponent("compose")
    /// `compose/docker-compose.yml`.
    static let composeFile = folder.appendingPathComponent("docker-compose.yml")
    /// `compose/env.example`, the committed example of the env file.
    static let envExample = folder.appendingPathComponent("env.example")
    /// `compose/Dockerfile`.
    static let dockerfile = folder.appendingPathComponent("Dockerfile")
    /// `compose/haproxy.cfg`.
    static let haproxyConfig = folder.appendingPathComponent("haproxy.cfg")

    /// The docker-compose that scripts/install-dependencies installs (1.29.2, in its own virtualenv).
    static let dockerComposeExecutable = TestEnvironment.packageRoot.appendingPathComponent(".build/tools/compose-venv/bin/docker-compose").path

    /// Runs `docker-compose -f compose/docker-compose.yml --env-file compose/env.example ARGUMENTS`, with
    /// no variables of the test runner's environment that could change the interpolation.
    /// - Throws: When docker-compose is not installed (the failure says how to install it).
    static func dockerCompose(_ arguments: [String]) async throws -> CommandRun {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.dockerComposeExecutable),
            "docker-compose 1.29.2 is not installed at \(Self.dockerComposeExecutable): run scripts/install-dependencies"
        )
        return try await CommandRun.run(Self.dockerComposeExecutable, ["-f", Self.composeFile.path, "--env-file", Self.envExample.path] + arguments)
    }

    /// `docker-compose config`: the file interpolated with env.example, anchors merged, in canonical form.
    /// - Throws: When docker-compose fails or prints something other than a YAML mapping.
    static func config() async throws -> ComposeConfig {
        let output = try await RenderedConfig.shared.output()
        try #require(output.exit == .exited(0), "docker-compose config failed:\n\(output.transcript)")
        let root = try #require(try Yams.load(yaml: output.standardOutput) as? [String: Any], "docker-compose config printed no mapping:\n\(output.standardOutput)")
        return ComposeConfig(root: root)
    }

    /// The variables of env.example (`NAME=value` lines; comments and blank lines skipped).
    static func exampleVariables() throws -> [String: String] {
        var variables: [String: String] = [:]
        for line in try String(contentsOf: Self.envExample, encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#"), let equals = text.firstIndex(of: "=") else { continue }
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return variables
    }
}

/// Runs `docker-compose config` once, however many tests read its output.
private actor RenderedConfig {
    static let shared = RenderedConfig()
    private var rendering: Task<CommandRun, any Error>?

    func output() async throws -> CommandRun {
        if let rendering { return try await rendering.value }
        let rendering = Task { try await ComposeDeployment.dockerCompose(["config"]) }
        self.rendering = rendering
        return try await rendering.value
    }
}

/// The output of `docker-compose config`, with typed access to what the tests check.
struct ComposeConfig {
    /// The whole document.
    let root: [String: Any]

    /// The services by name.
    var services: [String: ComposeService] {
        ((self.root["services"] as? [String: Any]) ?? [:]).reduce(into: [:]) { services, entry in
            services[entry.key] = ComposeService(name: entry.key, definition: entry.value as? [String: Any] ?? [:])
        }
    }

    /// The top-level named volumes.
    var volumeNames: Set<String> { Set(((self.root["volumes"] as? [String: Any]) ?? [:]).keys) }

    /// The top-level networks' definitions by name.
    var networks: [String: [String: Any]] {
        ((self.root["networks"] as? [String: Any]) ?? [:]).reduce(into: [:]) { $0[$1.key] = $1.value as? [String: Any] ?? [:] }
    }

    /// The service called `name`.
    /// - Throws: When there is none.
    func service(_ name: String) throws -> ComposeService {
        try #require(self.services[name], "the compose file has no service '\(name)'")
    }
}

/// One service of ``ComposeConfig``.
struct ComposeService {
    /// Its name.
    let name: String
    /// Its definition.
    let definition: [String: Any]

    /// Its environment (values as strings).
    var environment: [String: String] {
        ((self.definition["environment"] as? [String: Any]) ?? [:]).reduce(into: [:]) { $0[$1.key] = "\($1.value)" }
    }

    /// Its published ports as `(published, target)` (docker-compose prints them as mappings).
    var publishedPorts: [(published: Int?, target: Int?)] {
        ((self.definition["ports"] as? [[String: Any]]) ?? []).map { ($0["published"] as? Int, $0["target"] as? Int) }
    }

    /// Its mounts as `(source, target)`: a named volume's name or a host path, and the path in the container
    /// (docker-compose prints them as `source:target:mode`).
    var mounts: [(source: String, target: String)] {
        ((self.definition["volumes"] as? [String]) ?? []).map { mount in
            let parts = mount.split(separator: ":").map(String.init)
            return (parts.first ?? mount, parts.count > 1 ? parts[1] : "")
        }
    }

    /// The networks it is attached to.
    var networks: Set<String> { Set(((self.definition["networks"] as? [String: Any]) ?? [:]).keys) }

    /// Its fixed `ipv4_address` on `network`, if any.
    func ipv4Address(on network: String) -> String? {
        ((self.definition["networks"] as? [String: Any])?[network] as? [String: Any])?["ipv4_address"] as? String
    }

    /// The services it waits for, with the condition of each (docker-compose writes `service_started` for
    /// a dependency given without one).
    var dependencies: [String: String] {
        ((self.definition["depends_on"] as? [String: Any]) ?? [:]).reduce(into: [:]) {
            $0[$1.key] = (($1.value as? [String: Any])?["condition"] as? String) ?? "no condition"
        }
    }

    /// Its health check's command (`test`).
    var healthcheckTest: [String] {
        ((self.definition["healthcheck"] as? [String: Any])?["test"] as? [Any] ?? []).map { "\($0)" }
    }

    /// Its `entrypoint`.
    var entrypoint: [String] { ((self.definition["entrypoint"] as? [Any]) ?? []).map { "\($0)" } }

    /// Its `command`.
    var command: [String] { ((self.definition["command"] as? [Any]) ?? []).map { "\($0)" } }

    /// `deploy.replicas`, if set.
    var replicas: Int? { (self.definition["deploy"] as? [String: Any])?["replicas"] as? Int }
}

/// An IPv4 network (`172.28.0.0/24`), to check which addresses a compose network hands out.
struct IPv4Block {
    let address: UInt32
    let mask: UInt32

    init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = Self.address(String(parts[0])), let bits = UInt32(parts[1]), bits <= 32 else { return nil }
        self.mask = bits == 0 ? 0 : UInt32.max << (32 - bits)
        self.address = address & self.mask
    }

    func contains(_ other: UInt32) -> Bool { other & self.mask == self.address }

    /// A dotted IPv4 address as a number.
    static func address(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 != nil }) else { return nil }
        return octets.reduce(0) { $0 << 8 | UInt32($1!) }
    }
}
