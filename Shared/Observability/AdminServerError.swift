/// Why the ``AdminServer`` could not start or stopped, or why its port is not available.
public struct AdminServerError: Error, CustomStringConvertible, Sendable {
    private enum Kind: Sendable {
        case alreadyStarted
        case bindFailed(host: String, port: Int, reason: String)
        case serverFailed(reason: String)
        case stopped
        case cancelled
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    static let alreadyStarted = AdminServerError(.alreadyStarted)
    static let stopped = AdminServerError(.stopped)
    static let cancelled = AdminServerError(.cancelled)

    static func bindFailed(host: String, port: Int, reason: String) -> AdminServerError {
        AdminServerError(.bindFailed(host: host, port: port, reason: reason))
    }

    static func serverFailed(reason: String) -> AdminServerError {
        AdminServerError(.serverFailed(reason: reason))
    }

    /// What happened and what to do about it.
    public var description: String {
        switch self.kind {
        case .alreadyStarted:
            return "admin server: run() was called twice; create one AdminServer per run"
        case .bindFailed(let host, let port, let reason):
            return "admin server: cannot listen on \(host):\(port): \(reason); choose a free port or a local address"
        case .serverFailed(let reason):
            return "admin server: stopped accepting connections: \(reason)"
        case .stopped:
            return "admin server: not listening any more"
        case .cancelled:
            return "admin server: waiting for the listening port was cancelled"
        }
    }
}
