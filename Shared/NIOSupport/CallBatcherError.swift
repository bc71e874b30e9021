/// A batch call answered a different number of requests than it was given (a bug in its `send`).
public struct CallBatcherError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Requests in the batch.
    public var requests: Int
    /// Responses the call returned.
    public var responses: Int

    @usableFromInline
    init(requests: Int, responses: Int) {
        self.requests = requests
        self.responses = responses
    }

    /// Names both counts.
    public var description: String {
        "a batch of \(self.requests) requests was answered with \(self.responses) responses"
    }
}
