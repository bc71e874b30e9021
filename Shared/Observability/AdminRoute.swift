/// Which admin endpoint an HTTP request asks for; the pure routing half of ``AdminServer``.
public enum AdminRoute: Sendable, Equatable {
    /// `GET /metrics`: the Prometheus text exposition.
    case metrics
    /// `GET /healthz`: the process is alive.
    case health
    /// `GET /readyz`: the readiness checks.
    case readiness
    /// An endpoint the service added (``AdminEndpoint``), at this path.
    case endpoint(path: String)
    /// A path that has no endpoint.
    case notFound(path: String)
    /// A known path with a method other than those in `allowed`.
    case methodNotAllowed(method: String, path: String, allowed: [String])

    /// The methods every admin endpoint accepts; `HEAD` answers like `GET` without a body.
    public static let allowedMethods = ["GET", "HEAD"]

    /// Routes a request by its method and request target; the query string is ignored.
    ///
    /// - Parameters:
    ///   - method: The request method, e.g. `GET`.
    ///   - target: The request target, e.g. `/metrics?x=1`.
    ///   - endpoints: The service's own endpoints, by path and method.
    public init(method: String, target: String, endpoints: [(path: String, method: String)] = []) {
        let path = String(target.prefix { $0 != "?" && $0 != "#" })
        if let added = endpoints.first(where: { $0.path == path }) {
            self = added.method == method ? .endpoint(path: path) : .methodNotAllowed(method: method, path: path, allowed: [added.method])
            return
        }
        let endpoint: AdminRoute
        switch path {
        case "/metrics":
            endpoint = .metrics
        case "/healthz":
            endpoint = .health
        case "/readyz":
            endpoint = .readiness
        default:
            self = .notFound(path: path)
            return
        }
        guard Self.allowedMethods.contains(method) else {
            self = .methodNotAllowed(method: method, path: path, allowed: Self.allowedMethods)
            return
        }
        self = endpoint
    }
}
