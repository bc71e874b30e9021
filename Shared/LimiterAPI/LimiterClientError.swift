import GatehouseRPC

/// Why the limiter did not answer a call (or one request of a batch), as its callers act on it.
public struct LimiterClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// No connection to the limiter, or it dropped before the answer.
        case unreachable
        /// No answer within the call's timeout.
        case timedOut
        /// The limiter refused the request as invalid (e.g. a policy its policy file lacks).
        case refused
        /// The limiter does not know the method (an older version, during a rolling upgrade).
        case methodUnknown
        /// Any other failure: authentication, protocol or an error inside the limiter.
        case failed
    }

    /// What went wrong.
    public var reason: Reason
    /// The detail, for logs.
    public var message: String

    /// Creates an error.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The error an RPC failure means.
    init(_ error: RPCError) {
        let reason: Reason = switch error.code {
        case .unavailable: .unreachable
        case .deadlineExceeded: .timedOut
        case .invalidArgument: .refused
        case .unimplemented: .methodUnknown
        default: .failed
        }
        self.init(reason, error.message)
    }

    /// The reason and detail, e.g. `refused: unknown policy 'x'`.
    public var description: String { "\(self.reason): \(self.message)" }
}
