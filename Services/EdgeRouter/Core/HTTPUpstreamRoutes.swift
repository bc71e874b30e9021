import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The gateway's HTTP upstreams, one ``HTTPUpstreamRoute`` per distinct route configuration, made when a
/// request first needs it, or when the route table is put in force for one with `health_check:`, whose
/// probes run from then on: routes with the same `upstream:` share its connections and its addresses'
/// health. A reloaded route file keeps those still configured and shuts the others down (their probes
/// stop, their idle connections close). As a service, it shuts every upstream down at graceful shutdown, as the
/// HTTP server does once it has drained (``shutDown()``).
final class HTTPUpstreamRoutes: Sendable {
    private struct State {
        var routes: [HTTPUpstreamConfiguration: HTTPUpstreamRoute] = [:]
        var probes: [HTTPUpstreamConfiguration: Task<Void, Never>] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    private let eventLoops: [any EventLoop]
    private let logger: Logger

    /// Creates an empty set forwarding from `eventLoops`.
    init(eventLoops: [any EventLoop], logger: Logger) {
        self.eventLoops = eventLoops
        self.logger = logger
    }

    /// The upstream of a route configuration.
    func upstream(for configuration: HTTPUpstreamConfiguration) -> HTTPUpstreamRoute {
        self.state.withLock { self.made(configuration, in: &$0) }
    }

    /// Keeps the upstreams of `configurations` and shuts the others down; starts the health checks of
    /// those that have one.
    func keep(only configurations: Set<HTTPUpstreamConfiguration>) {
        let (dropped, stoppedProbes) = self.state.withLock { state in
            let dropped = state.routes.filter { !configurations.contains($0.key) }.map(\.value)
            state.routes = state.routes.filter { configurations.contains($0.key) }
            let stoppedProbes = state.probes.filter { !configurations.contains($0.key) }.map(\.value)
            state.probes = state.probes.filter { configurations.contains($0.key) }
            for configuration in configurations where configuration.healthCheck != nil { _ = self.made(configuration, in: &state) }
            return (dropped, stoppedProbes)
        }
        for probe in stoppedProbes { probe.cancel() }
        for upstream in dropped { upstream.shutDown() }
    }

    /// Stops every health check, closes every upstream's idle connections now and each busy one once its
    /// exchange ends; an upstream made later (a request still being answered) is neither probed nor keeps a
    /// connection.
    func shutDown() {
        let (routes, probes) = self.state.withLock { state in
            state.stopped = true
            defer { state.probes = [:] }
            return (Array(state.routes.values), Array(state.probes.values))
        }
        for probe in probes { probe.cancel() }
        for upstream in routes { upstream.shutDown() }
    }

    /// The upstream of `configuration`, made (and its health check started) if it is not there yet.
    private func made(_ configuration: HTTPUpstreamConfiguration, in state: inout State) -> HTTPUpstreamRoute {
        if let existing = state.routes[configuration] { return existing }
        let made = HTTPUpstreamRoute(configuration: configuration, eventLoops: self.eventLoops, logger: self.logger)
        state.routes[configuration] = made
        if state.stopped { made.shutDown() }
        if configuration.healthCheck != nil, !state.stopped {
            state.probes[configuration] = Task { await made.checkHealth() }
        }
        return made
    }
}

extension HTTPUpstreamRoutes: Service {
    /// Waits for graceful shutdown, then shuts every upstream down (the HTTP server has drained by then).
    func run() async throws {
        try? await gracefulShutdown()
        self.shutDown()
    }
}
