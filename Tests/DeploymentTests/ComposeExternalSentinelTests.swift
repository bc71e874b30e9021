import Foundation
import GatehouseTestSupport
import Testing
import Yams

/// compose/README.md, "External Redis Sentinel": the env file alone points every service at external sentinels.
@Suite(.timeLimit(.minutes(2)))
struct ComposeExternalSentinelTests {
    @Test("with the env file's sentinel variables, every Gatehouse service is in sentinel mode and --check-config accepts it")
    func theEnvFileSwitchesEveryServiceToSentinelMode() async throws {
        let folder = try TestFolder()
        let sentinels = "sentinel-a:26379,sentinel-b:26379,sentinel-c:26379"
        try folder.write(
            "sentinel.env",
            try String(contentsOf: ComposeDeployment.envExample, encoding: .utf8)
                + "GATEHOUSE_REDIS_MODE=sentinel\nGATEHOUSE_REDIS_SENTINELS=\(sentinels)\nGATEHOUSE_REDIS_MASTER_NAME=gatehouse\nGATEHOUSE_REDIS_HOST=\n"
        )
        let rendered = try await CommandRun.run(
            ComposeDeployment.dockerComposeExecutable,
            ["-f", ComposeDeployment.composeFile.path, "--env-file", folder.path("sentinel.env"), "config"]
        )
        try #require(rendered.exit == .exited(0), "docker-compose config failed:\n\(rendered.transcript)")
        let root = try #require(try Yams.load(yaml: rendered.standardOutput) as? [String: Any])
        let config = ComposeConfig(root: root)
        for (name, prefix, _) in ComposeFileTests.gatehouseServices {
            let service = try config.service(name)
            #expect(service.environment["\(prefix)_REDIS_MODE"] == "sentinel", "\(name)")
            #expect(service.environment["\(prefix)_REDIS_SENTINEL_ADDRESSES"] == sentinels, "\(name)")
            #expect(service.environment["\(prefix)_REDIS_SENTINEL_MASTER_NAME"] == "gatehouse", "\(name)")
            #expect(service.environment["\(prefix)_REDIS_HOST"] == "", "\(name)")

            let executable = try #require(service.entrypoint.first, "\(name) has no entrypoint")
            let environment = try ComposeDeployment.replacingExampleSecrets(in: ComposeDeployment.hostEnvironment(of: service, in: folder))
            let output = try await CommandRun.run(
                TestEnvironment.productsDirectory.appendingPathComponent(executable).path, ["--check-config"], environment: environment, directory: folder.url.path
            )
            #expect(
                output.exit == .exited(0) && output.standardOutput.contains("\(executable): configuration ok"),
                "\(executable) --check-config refused the sentinel configuration:\n\(output.transcript)"
            )
        }
    }
}
