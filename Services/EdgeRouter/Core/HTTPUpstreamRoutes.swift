import Logging
import NIOCore
import Synchronization

/// The gateway's HTTP upstreams, one ``HTTPUpstreamRoute`` per distinct route configuration, made when a
/// request first needs it: routes with the same `upstream:` share its connections and its addresses'
/// health. A reloaded route file keeps those still configured and closes the others' idle connections;
/// at shutdown every upstream closes its connections (``shutDown()``).
final class HTTPUpstreamRoutes: Sendable {
    private let routes = Mutex<(made: [HTTPUpstreamConfiguration: HTTPUpstreamRoute], isShutDown: Bool)>(([:], false))
    private let eventLoops: [any EventLoop]
    private let logger: Logger

    /// Creates an empty set forwarding from `eventLoops`.
    init(eventLoops: [any EventLoop], logger: Logger) {
        self.eventLoops = eventLoops
        self.logger = logger
    }

    /// The upstream of a route configuration.
    func upstream(for configuration: HTTPUpstreamConfiguration) -> HTTPUpstreamRoute {
        self.routes.withLock { routes in
            if let existing = routes.made[configuration] { return existing }
            let made = HTTPUpstreamRoute(configuration: configuration, eventLoops: self.eventLoops, logger: self.logger)
            if routes.isShutDown { made.shutDown() }
            routes.made[configuration] = made
            return made
        }
    }

    /// Keeps the upstreams of `configurations` and shuts the others down.
    func keep(only configurations: Set<HTTPUpstreamConfiguration>) {
        let dropped = self.routes.withLock { routes in
            let dropped = routes.made.filter { !configurations.contains($0.key) }.map(\.value)
            routes.made = routes.made.filter { configurations.contains($0.key) }
            return dropped
        }
        for upstream in dropped { upstream.shutDown() }
    }

    /// Closes every upstream's idle connections now and each busy one once its exchange ends; an upstream
    /// made later (a request still being answered) keeps no connection either.
    func shutDown() {
        let all = self.routes.withLock { routes in
            routes.isShutDown = true
            return Array(routes.made.values)
        }
        for upstream in all { upstream.shutDown() }
    }
}
