import Logging
import Prometheus
import ServiceLifecycle

/// A service as its executable runs it: wired from its ``ServiceSetup`` by ``make(setup:registry:signals:logger:)``
/// into one `ServiceGroup`, and run until graceful shutdown. Each service's core provides one; the shared
/// command scaffold (`GatehouseCommand`) checks the configuration, sets up logging and metrics and runs it,
/// and tests start it in process on port 0.
public protocol LaunchableService: Sendable {
    /// What the service is set up from.
    associatedtype Setup: ServiceSetup

    /// Its executable's name and help, and its main logger's label.
    static var identity: ServiceIdentity { get }

    /// Histogram buckets for particular `Timer`s, by label (``MetricsBootstrap/bootstrap(registry:durationBuckets:)``).
    static var durationBuckets: [String: [Duration]] { get }

    /// Wires the service: its clients, publishers, servers and the service group that runs them.
    ///
    /// Nothing listens until ``run()``.
    /// - Parameters:
    ///   - setup: The checked configuration.
    ///   - registry: The registry the admin server's `/metrics` renders.
    ///   - signals: ``ServiceSignals/trapped`` in the executable, ``ServiceSignals/untrapped`` in tests.
    ///   - logger: The service's main logger (labelled ``ServiceIdentity/logLabel``).
    /// - Throws: ``UnusableConfiguration`` when something the configuration names cannot be used (a database
    ///   that does not open); any other error when the service cannot be wired.
    static func make(setup: Setup, registry: PrometheusCollectorRegistry, signals: ServiceSignals, logger: Logger) async throws -> Self

    /// Everything long-lived, in start order; graceful shutdown stops them in reverse.
    var serviceGroup: ServiceGroup { get }

    /// The operations endpoint (`/metrics`, `/healthz`, `/readyz`).
    var adminServer: AdminServer { get }

    /// Waits until the servers listen, then logs the service's one "listening" line with the bound ports.
    /// - Throws: When a server could not bind.
    func logListening() async throws

    /// Releases what outlives the service group (a database), after graceful shutdown.
    func close() async
}

extension LaunchableService {
    /// No buckets of its own: every `Timer` uses ``MetricsBootstrap/defaultDurationBuckets``.
    public static var durationBuckets: [String: [Duration]] { [:] }

    /// Nothing outlives the service group.
    public func close() async {}

    /// Runs the service group, logs the "listening" line once the servers are bound, and returns after
    /// graceful shutdown (then ``close()``).
    /// - Throws: When a service of the group fails.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await self.serviceGroup.run()
                return true
            }
            tasks.addTask {
                // Cancelled when the group ends first (a shutdown during start-up): no line, and no error.
                do { try await self.logListening() } catch is CancellationError {}
                return false
            }
            while let groupEnded = try await tasks.next() {
                if groupEnded { tasks.cancelAll() }
            }
        }
        await self.close()
    }

    /// Shuts the service group down as `SIGTERM` does (in reverse order: servers drain first, clients stop
    /// last); ``run()`` returns when it is done.
    public func triggerGracefulShutdown() async {
        await self.serviceGroup.triggerGracefulShutdown()
    }

    /// The admin server's port, once bound.
    /// - Returns: The port (the system's choice when configured as 0).
    /// - Throws: The bind error.
    public func adminPort() async throws -> Int {
        try await self.adminServer.listeningPort()
    }
}
