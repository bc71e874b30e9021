/// Why a service's typed client (`LimiterClient`, `DataClient`, …) did not get what it asked for: a
/// reason in the terms its callers act on, so no caller switches on RPC error codes, and the detail.
public struct ServiceClientError<Reason: ServiceClientErrorReason>: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public var reason: Reason
    /// The detail, for logs (the server's own words for the failures it reports).
    public var message: String

    /// Creates an error.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The error an RPC failure means.
    public init(_ error: RPCError) {
        self.init(Reason(error.code), error.message)
    }

    /// The reason and detail, e.g. `notFound: document articles/a1 not found`.
    public var description: String { "\(self.reason): \(self.message)" }
}

/// The reasons one service's typed client tells apart, each RPC error code mapped to one: the codes the
/// service answers with to its own reasons (``reason(answering:)``), the transport's to the four every
/// client has.
public protocol ServiceClientErrorReason: Sendable, Equatable {
    /// No connection to the service, or it dropped before the answer (`unavailable`).
    static var unreachable: Self { get }
    /// No answer within the call's timeout (`deadline_exceeded`).
    static var timedOut: Self { get }
    /// The service does not know the method: an older version (`unimplemented`).
    static var methodUnknown: Self { get }
    /// Any other failure: authentication, protocol or an error inside the service.
    static var failed: Self { get }

    /// The service's own reason for a code it answers with; `nil` for the others.
    static func reason(answering code: RPCError.Code) -> Self?
}

extension ServiceClientErrorReason {
    /// The reason an RPC error code means.
    public init(_ code: RPCError.Code) {
        if let reason = Self.reason(answering: code) {
            self = reason
            return
        }
        self = switch code {
        case .unavailable: .unreachable
        case .deadlineExceeded: .timedOut
        case .unimplemented: .methodUnknown
        default: .failed
        }
    }
}

extension RPCClient {
    /// Calls `method` for a typed client: an RPC failure is thrown as the ``ServiceClientError`` it means.
    /// - Throws: `ServiceClientError<Reason>`; `CancellationError` when the calling task is cancelled.
    public func call<Request, Response, Reason: ServiceClientErrorReason>(
        _ method: RPCMethod<Request, Response>, _ request: Request, traceID: String?, failingWith: Reason.Type
    ) async throws -> Response {
        do {
            return try await self.call(method, request, traceID: traceID)
        } catch let error as RPCError {
            throw ServiceClientError<Reason>(error)
        }
    }
}
