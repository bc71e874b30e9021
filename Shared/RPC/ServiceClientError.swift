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

/// The reasons one service's typed client tells apart, each RPC error code mapped to one.
public protocol ServiceClientErrorReason: Sendable, Equatable {
    /// The reason an RPC error code means.
    init(_ code: RPCError.Code)
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
