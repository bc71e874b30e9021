import GatehouseRPC

/// Why the auth issuer did not answer a call.
public typealias AuthClientError = ServiceClientError<AuthFailure>

/// What went wrong with an auth issuer call, as its callers act on it.
public enum AuthFailure: ServiceClientErrorReason {
    /// No connection to the issuer, or it dropped before the answer.
    case unreachable
    /// No answer within the call's timeout.
    case timedOut
    /// The answer did not fit the frame limit on the way.
    case tooLarge
    /// The issuer does not know the method (an older version).
    case methodUnknown
    /// Any other failure: authentication, protocol or an error inside the issuer.
    case failed

    /// `tooLarge` for `frame_too_large`.
    public static func reason(answering code: RPCError.Code) -> Self? {
        code == .frameTooLarge ? .tooLarge : nil
    }
}
