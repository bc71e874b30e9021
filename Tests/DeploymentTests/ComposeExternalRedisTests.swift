import Foundation
import GatehouseTestSupport
import Testing
import Yams

/// compose/README.md, "External Redis Cluster or Sentinel": the env file alone points every service at an
/// external cluster or external sentinels.
@Suite(.timeLimit(.minutes(2)))
struct ComposeExternalRedisTests {
    private static let seeds = "10.0.0.11:6379,10.0.0.12:6379,10.0.0.13:6379"
    private static let sentinels = "sentinel-a:26379,sentinel-b:26379,sentinel-c:26379"

    @Test(
        "with the env file's cluster or sentinel variables, every Gatehouse service is in that mode and --check-config accepts it",
        arguments: [
            (
                "cluster",
                "GATEHOUSE_REDIS_MODE=cluster\nGATEHOUSE_REDIS_CLUSTER_SEEDS=\(seeds)\nGATEHOUSE_REDIS_HOST=\n",
                ["REDIS_CLUSTER_SEEDS": seeds]
            ),
            (
                "sentinel",
                "GATEHOUSE_REDIS_MODE=sentinel\nGATEHOUSE_REDIS_SENTINELS=\(sentinels)\nGATEHOUSE_REDIS_MASTER_NAME=gatehouse\nGATEHOUSE_REDIS_HOST=\n",
                ["REDIS_SENTINEL_ADDRESSES": sentinels, "REDIS_SENTINEL_MASTER_NAME": "gatehouse"]
            ),
        ]
    )
    func theEnvFileSwitchesEveryServiceToTheMode(mode: String, envLines: String, expected: [String: String]) async throws {
        let folder = try TestFolder()
        try folder.write("\(mode).env", try String(contentsOf: ComposeDeployment.envExample, encoding: .utf8) + envLines)
        let rendered = try await CommandRun.run(
            ComposeDeployment.dockerComposeExecutable,
            ["-f", ComposeDeployment.composeFile.path, "--env-file", folder.path("\(mode).env"), "config"]
        )
        try #require(rendered.exit == .exited(0), "docker-compose config failed:\n\(rendered.transcript)")
        let root = try #require(try Yams.load(yaml: rendered.standardOutput) as? [String: Any])
        let config = ComposeConfig(root: root)
        for (name, prefix, _) in ComposeFileTests.gatehouseServices {
            let service = try config.service(name)
            #expect(service.environment["\(prefix)_REDIS_MODE"] == mode, "\(name)")
            for (key, value) in expected {
                #expect(service.environment["\(prefix)_\(key)"] == value, "\(name) \(key)")
            }
            #expect(service.environment["\(prefix)_REDIS_HOST"] == "", "\(name)")

            let executable = try #require(service.entrypoint.first, "\(name) has no entrypoint")
            let environment = try ComposeDeployment.replacingExampleSecrets(in: ComposeDeployment.hostEnvironment(of: service, in: folder))
            let output = try await CommandRun.run(
                TestEnvironment.productsDirectory.appendingPathComponent(executable).path, ["--check-config"], environment: environment, directory: folder.url.path
            )
            #expect(
                output.exit == .exited(0) && output.standardOutput.contains("\(executable): configuration ok"),
                "\(executable) --check-config refused the \(mode) configuration:\n\(output.transcript)"
            )
        }
    }
}
