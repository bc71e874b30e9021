import Logging

/// What a handler knows about the call it serves, besides the request message.
public struct RPCCallContext: Sendable {
    /// When the caller stops waiting; work past it is wasted.
    public let deadline: ContinuousClock.Instant
    /// The request id of the originating HTTP request, when the caller sent one.
    public let traceID: String?
    /// A logger with `rpc.method`, `rpc.peer` and, when present, `request.id` metadata.
    public let logger: Logger
    /// The most bytes the serialized response message may have: the caller's frame maximum (announced in
    /// its hello) less the answer envelope's own bytes. A larger response is answered `FRAME_TOO_LARGE`
    /// instead, so a handler that can answer with less (a shorter page) should stay within it.
    public let maximumAnswerBytes: Int

    /// Creates a context; the server does this for every call.
    /// - Parameters:
    ///   - deadline: When the caller stops waiting.
    ///   - traceID: The originating request id, if any.
    ///   - logger: The logger for this call.
    ///   - maximumAnswerBytes: The most bytes the response message may have (default: what fits in a
    ///     frame of ``RPCFrameLimit/defaultMaximumBytes``).
    public init(
        deadline: ContinuousClock.Instant, traceID: String?, logger: Logger,
        maximumAnswerBytes: Int = RPCFrameLimit.defaultMaximumBytes - RPCFrameLimit.answerEnvelopeBytes
    ) {
        self.deadline = deadline
        self.traceID = traceID
        self.logger = logger
        self.maximumAnswerBytes = maximumAnswerBytes
    }
}
