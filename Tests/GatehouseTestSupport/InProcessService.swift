import GatehouseConfig
import GatehouseObservability
import Logging
import Prometheus
import Synchronization

/// A service wired from its configuration as its executable wires it (`make`), but running inside the test
/// process: no signals trapped, no process-wide logging or metrics set up (its `/metrics` shows only what
/// is created in its own registry). It runs from ``start(_:yaml:environment:)`` until ``stop()`` (graceful,
/// as `SIGTERM`) or ``cancel()`` (its service group cancelled, as near to a crash as one process allows).
///
/// Whoever starts one stops it, also when the test fails: prefer ``withInProcessService(_:yaml:_:)`` where
/// the service lives for one block.
public final class InProcessService<Service: LaunchableService>: Sendable {
    /// The running service: its ports, its admin server.
    public let service: Service
    private let running: Task<Void, any Error>
    private let ended: RunEnd

    private init(service: Service) {
        self.service = service
        let ended = RunEnd()
        self.running = Task {
            do {
                try await service.run()
                ended.result.withLock { $0 = .success(()) }
            } catch {
                ended.result.withLock { $0 = .failure(error) }
                throw error
            }
        }
        self.ended = ended
    }

    /// Wires the service and starts running it; its ports are bound soon after (ask the service for them).
    /// - Parameters:
    ///   - service: The service's type, e.g. `LimiterService.self`.
    ///   - yaml: Its configuration file's text; listen on port 0 and read the ports from the service.
    ///   - environment: Variables that override the file's keys as in the executable (`LIMITER_RPC_PORT`, …).
    /// - Returns: The service, running.
    /// - Throws: A configuration error, or an error of `make`.
    public static func start(_ service: Service.Type, yaml: String = "", environment: [String: String] = [:]) async throws -> InProcessService {
        var document = try ConfigDocument(yaml: yaml, source: "test", environment: environment, prefix: Service.Setup.environmentPrefix)
        let setup = try Service.Setup(reading: &document)
        let made = try await Service.make(setup: setup, registry: PrometheusCollectorRegistry(), signals: .untrapped, logger: Logger(label: Service.identity.logLabel))
        return InProcessService(service: made)
    }

    /// One of the service's ports once it is bound, or the error the service stopped with before (a port
    /// taken by another process).
    /// - Parameter read: Reads the port from the service, e.g. `{ try await $0.rpcPort() }`.
    /// - Returns: The port.
    /// - Throws: The service's error, or ``InProcessServiceStopped`` when it stopped without one.
    public func port(_ read: @escaping @Sendable (Service) async throws -> Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { tasks in
            tasks.addTask { try await read(self.service) }
            tasks.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(20))
                    if let ended = self.ended.result.withLock({ $0 }) {
                        try ended.get()
                        throw InProcessServiceStopped()
                    }
                }
            }
            defer { tasks.cancelAll() }
            return try await tasks.next()!
        }
    }

    /// Shuts the service down gracefully, as `SIGTERM` does, and waits until it has stopped.
    /// - Throws: The error of a service that failed or did not stop cleanly.
    ///   Does nothing more once the service was cancelled.
    public func stop() async throws {
        guard !self.running.isCancelled else { return await self.cancel() }
        await self.service.triggerGracefulShutdown()
        try await self.running.value
    }

    /// Cancels the service group: every service stops at once, without draining, and what it held open is
    /// dropped. Waits until it has stopped; whatever cancellation made it throw is not an error here.
    public func cancel() async {
        self.running.cancel()
        _ = try? await self.running.value
    }
}

/// Runs `Service` in process (``InProcessService``) for the length of `body`, then shuts it down gracefully
/// and waits until `run()` returns, so a service that does not stop fails the test.
/// - Parameters:
///   - service: The service's type, e.g. `LimiterService.self`.
///   - yaml: Its configuration file's text; listen on port 0 and read the ports from the service.
///   - environment: Variables that override the file's keys as in the executable (`DATA_RPC_PORT`, …).
///   - body: The test, given the running service.
/// - Returns: What `body` returned.
/// - Throws: A configuration error, what `body` threw, or the error of a service that failed.
public func withInProcessService<Service: LaunchableService, Value: Sendable>(
    _ service: Service.Type, yaml: String = "", environment: [String: String] = [:], _ body: (Service) async throws -> Value
) async throws -> Value {
    let running = try await InProcessService.start(service, yaml: yaml, environment: environment)
    let result: Value
    do {
        result = try await body(running.service)
    } catch {
        try await running.stop()
        throw error
    }
    try await running.stop()
    return result
}

/// How a service's `run()` ended, once it has.
private final class RunEnd: Sendable {
    let result = Mutex<Result<Void, any Error>?>(nil)
}

/// A service in process stopped before the port asked for was bound.
public struct InProcessServiceStopped: Error {}
