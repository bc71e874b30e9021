import GatehouseObservability
import Synchronization

/// The services a test started in process (``InProcessService``), of any kind, so that they are all stopped
/// at its end, also when it fails.
public final class InProcessServices: Sendable {
    private let stops: Mutex<[@Sendable () async throws -> Void]>

    /// None yet.
    public init() {
        self.stops = Mutex([])
    }

    /// Starts a service (``InProcessService/start(_:yaml:environment:)``) that ``stopAll()`` stops.
    /// - Returns: The service, running.
    /// - Throws: A configuration error, or an error of its `make`.
    public func start<Service: LaunchableService>(
        _ service: Service.Type, yaml: String = "", environment: [String: String] = [:]
    ) async throws -> InProcessService<Service> {
        let running = try await InProcessService.start(service, yaml: yaml, environment: environment)
        self.stops.withLock { $0.append { try await running.stop() } }
        return running
    }

    /// Stops every service still running gracefully, newest first (one a test stopped or cancelled already
    /// is left as it is).
    /// - Throws: The first error of a service that failed or did not stop cleanly, after trying them all.
    public func stopAll() async throws {
        let stops = self.stops.withLock { stops in
            defer { stops = [] }
            return stops
        }
        var firstError: (any Error)?
        for stop in stops.reversed() {
            do { try await stop() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }
}
