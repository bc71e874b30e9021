import NIOCore

/// One encoded command on its way to ``RedisCommandHandler``, with the promise its reply completes.
struct RedisCommandRequest: Sendable {
    /// The command, already RESP encoded.
    let encoded: ByteBuffer
    /// Completed with the reply, or failed with a ``RedisError``.
    let replyPromise: EventLoopPromise<RESPValue>
}
