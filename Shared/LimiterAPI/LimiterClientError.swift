import GatehouseRPC

/// Why the limiter did not answer a call (or one request of a batch).
public typealias LimiterClientError = ServiceClientError<LimiterFailure>

/// What went wrong with a limiter call, as its callers act on it.
public enum LimiterFailure: ServiceClientErrorReason {
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

    /// `refused` for `invalid_argument`.
    public static func reason(answering code: RPCError.Code) -> Self? {
        code == .invalidArgument ? .refused : nil
    }
}
