import Logging

/// What a handler knows about the call it serves, besides the request message.
public struct RPCCallContext: Sendable {
    /// When the caller stops waiting; work past it is wasted.
    public let deadline: ContinuousClock.Instant
    /// The request id of the originating HTTP request, when the caller sent one.
    public let traceID: String?
    /// A logger with `rpc.method`, `rpc.peer` and, when present, `request.id` metadata.
    public let logger: Logger

    /// Creates a context; the server does this for every call.
    /// - Parameters:
    ///   - deadline: When the caller stops waiting.
    ///   - traceID: The originating request id, if any.
    ///   - logger: The logger for this call.
    public init(deadline: ContinuousClock.Instant, traceID: String?, logger: Logger) {
        self.deadline = deadline
        self.traceID = traceID
        self.logger = logger
    }
}
