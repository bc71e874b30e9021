import GatehouseConfig
import GatehouseObservability
import Logging
import Prometheus

/// Wires `Service` from `yaml` as its executable does (`make`), but inside the test process: no signals
/// trapped, no process-wide logging or metrics set up. Runs it, runs `body` once every port is bound, then
/// shuts it down gracefully and waits until `run()` returns, so a service that does not stop fails the test.
/// - Parameters:
///   - service: The service's type, e.g. `LimiterService.self`.
///   - yaml: Its configuration file's text; listen on port 0 and read the ports from the service.
///   - body: The test, given the running service.
/// - Returns: What `body` returned.
/// - Throws: A configuration error, what `body` threw, or the error of a service that failed.
public func withInProcessService<Service: LaunchableService, Value: Sendable>(
    _ service: Service.Type, yaml: String, _ body: (Service) async throws -> Value
) async throws -> Value {
    var document = try ConfigDocument(yaml: yaml, source: "test")
    let setup = try Service.Setup(reading: &document)
    let running = try await Service.make(setup: setup, registry: PrometheusCollectorRegistry(), signals: .untrapped, logger: Logger(label: Service.logLabel))
    return try await withThrowingTaskGroup { tasks in
        tasks.addTask { try await running.run() }
        let result: Value
        do {
            result = try await body(running)
        } catch {
            await running.triggerGracefulShutdown()
            try await tasks.waitForAll()
            throw error
        }
        await running.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return result
    }
}
