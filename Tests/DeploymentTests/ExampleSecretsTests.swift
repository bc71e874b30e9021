import Foundation
import GatehouseTestSupport
import Testing

extension ComposeDeployment {
    /// The environment the compose file gives `service`, outside a container: the image's configuration
    /// folder is the repository's `config/`, and each volume a folder of its own in `folder`.
    static func hostEnvironment(of service: ComposeService, in folder: TestFolder) throws -> [String: String] {
        let dockerfile = try String(contentsOf: Self.dockerfile, encoding: .utf8)
        let copy = try #require(dockerfile.firstMatch(of: /(?m)^COPY config\/ (\/\S+)$/), "the Dockerfile does not COPY config/ into the image")
        let imageConfigFolder = copy.1.hasSuffix("/") ? String(copy.1) : "\(copy.1)/"
        var environment: [String: String] = [:]
        for (variable, value) in service.environment {
            if value.hasPrefix(imageConfigFolder) {
                environment[variable] = TestEnvironment.packageRoot.appendingPathComponent("config").appendingPathComponent(String(value.dropFirst(imageConfigFolder.count))).path
            } else if let mount = service.mounts.first(where: { value.hasPrefix($0.target + "/") }) {
                try FileManager.default.createDirectory(atPath: folder.path(mount.source), withIntermediateDirectories: true)
                environment[variable] = folder.path(mount.source) + value.dropFirst(mount.target.count)
            } else {
                environment[variable] = value
            }
        }
        return environment
    }

    /// The secrets of env.example (`GATEHOUSE_RPC_SECRET`, `GATEHOUSE_REDIS_PASSWORD`, `GATEHOUSE_ADMIN_PASSWORD`)
    /// by value: placeholders an operator must replace.
    static func exampleSecrets() throws -> [String: String] {
        let variables = try Self.exampleVariables()
        var secrets: [String: String] = [:]
        for name in ["GATEHOUSE_RPC_SECRET", "GATEHOUSE_REDIS_PASSWORD", "GATEHOUSE_ADMIN_PASSWORD"] {
            secrets[try #require(variables[name], "env.example has no \(name)")] = name
        }
        return secrets
    }

    /// `environment` with every value that is one of env.example's secrets replaced by a fresh random one,
    /// as an operator who followed env.example's instructions has (the same value where env.example has one).
    static func replacingExampleSecrets(in environment: [String: String]) throws -> [String: String] {
        let secrets = try Self.exampleSecrets()
        let replacements = Dictionary(uniqueKeysWithValues: secrets.keys.map { ($0, UUID().uuidString + UUID().uuidString) })
        return environment.mapValues { replacements[$0] ?? $0 }
    }
}

/// `cp env.example .env && docker compose up` without replacing the values: every Gatehouse service refuses
/// to start, naming the setting and the variable that still holds an example value.
///
/// Out of process: the refusal is the executable's exit status (78) and the message it prints.
@Suite(.timeLimit(.minutes(2)))
struct ExampleSecretsTests {
    @Test(
        "each Gatehouse executable refuses to start while a secret is still env.example's (exit 78, naming the key and the variable)",
        arguments: ComposeFileTests.gatehouseServices.map(\.name)
    )
    func executableRefusesTheExampleSecrets(_ name: String) async throws {
        let service = try await ComposeDeployment.config().service(name)
        let executable = try #require(service.entrypoint.first, "\(name) has no entrypoint")
        let folder = try TestFolder()
        let environment = try ComposeDeployment.hostEnvironment(of: service, in: folder)
        let secrets = try ComposeDeployment.exampleSecrets()
        let keys = ["RPC_SECRET": "rpc.secret", "REDIS_PASSWORD": "redis.password", "BOOTSTRAP_ADMIN_PASSWORD": "bootstrap.admin_password"]
        let secretVariables = environment.filter { secrets[$0.value] != nil }.keys.sorted()
        #expect(secretVariables.count >= 2, "\(name) gets no rpc.secret and redis.password from env.example: \(secretVariables)")
        // Every other secret is a real one, so the refusal is this variable's alone; a start that got further
        // would listen on loopback only.
        let replaced = try ComposeDeployment.replacingExampleSecrets(in: environment).mapValues { $0 == "0.0.0.0" ? "127.0.0.1" : $0 }
        for variable in secretVariables {
            let key = try #require(keys.first { variable.hasSuffix("_" + $0.key) }?.value, "\(variable) is no known secret")
            var exampleLeft = replaced
            exampleLeft[variable] = environment[variable]
            let output = try await CommandRun.run(
                TestEnvironment.productsDirectory.appendingPathComponent(executable).path, [], environment: exampleLeft, directory: folder.url.path,
                timeout: .seconds(30)
            )
            let transcript = output.transcript
            #expect(output.exit == .exited(78), "\(executable) started with env.example's \(variable):\n\(transcript)")
            #expect(transcript.contains("environment variable \(variable)"), "\(transcript)")
            #expect(transcript.contains("key '\(key)'"), "\(transcript)")
            #expect(transcript.contains("replace-me"), "\(transcript)")
            #expect(!transcript.contains(environment[variable] ?? "-"), "the secret is never printed:\n\(transcript)")
        }
    }
}
