import GatehouseRPC

/// Why the data service did not do what it was asked.
public typealias DataClientError = ServiceClientError<DataFailure>

/// What went wrong with a data service call, as its callers act on it.
public enum DataFailure: ServiceClientErrorReason {
    /// The request is invalid (a body that is not a JSON object, a malformed cursor, …).
    case invalid
    /// The document does not exist.
    case notFound
    /// The write's `ifVersion` does not hold: the document changed, or exists (or not) against it.
    case preconditionFailed
    /// The data service is overloaded; retry shortly.
    case overloaded
    /// A document too large for a frame limit on the way.
    case tooLarge
    /// No connection to the data service, or it dropped before the answer.
    case unreachable
    /// No answer within the call's timeout.
    case timedOut
    /// The data service does not know the method (an older version).
    case methodUnknown
    /// Any other failure: authentication, protocol, the store.
    case failed

    /// The data service's reasons for its own codes.
    public static func reason(answering code: RPCError.Code) -> Self? {
        switch code {
        case .invalidArgument: .invalid
        case .notFound: .notFound
        case .conflict: .preconditionFailed
        case .resourceExhausted: .overloaded
        case .frameTooLarge: .tooLarge
        default: nil
        }
    }
}
