/// Why the edge's HTTP server could not start.
package enum EdgeHTTPServerError: Error, CustomStringConvertible {
    /// The address could not be bound.
    case bindFailed(host: String, port: Int, reason: String)

    /// What went wrong and what to change.
    package var description: String {
        switch self {
        case .bindFailed(let host, let port, let reason):
            return "edge http server: cannot listen on \(host):\(port): \(reason); choose a free port (http.port) or a local address (http.host)"
        }
    }
}
