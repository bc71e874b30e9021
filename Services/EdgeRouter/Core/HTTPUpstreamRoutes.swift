import Logging
import NIOCore
import Synchronization

/// The gateway's HTTP upstreams, one ``HTTPUpstreamRoute`` per distinct route configuration, made when a
/// request first needs it: routes with the same `upstream:` share its connections and its addresses'
/// health. A reloaded route file keeps those still configured and closes the others' idle connections.
final class HTTPUpstreamRoutes: Sendable {
    private let routes = Mutex<[HTTPUpstreamConfiguration: HTTPUpstreamRoute]>([:])
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
            if let existing = routes[configuration] { return existing }
            let made = HTTPUpstreamRoute(configuration: configuration, eventLoops: self.eventLoops, logger: self.logger)
            routes[configuration] = made
            return made
        }
    }

    /// Keeps the upstreams of `configurations` and shuts the others down.
    func keep(only configurations: Set<HTTPUpstreamConfiguration>) {
        let dropped = self.routes.withLock { routes in
            let dropped = routes.filter { !configurations.contains($0.key) }.map(\.value)
            routes = routes.filter { configurations.contains($0.key) }
            return dropped
        }
        for upstream in dropped { upstream.shutDown() }
    }
}
