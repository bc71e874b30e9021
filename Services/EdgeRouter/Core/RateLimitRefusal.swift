import Synchronization

/// The `429` problem answered to a request over its limit. A client over its limit is answered it on every
/// request, so the problem body is kept encoded per denying policy and retry time (at most `capacity` of
/// them; all are dropped when that many are kept).
final class RateLimitRefusal: Sendable {
    private struct Key: Hashable {
        var policy: String
        var retryAfterSeconds: Int
    }

    private let problems = Mutex<[Key: EdgeResponse]>([:])
    private let capacity: Int

    /// - Parameter capacity: How many encoded bodies are kept at most.
    init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// The `429` for a request denied by `policy`, to retry after `retryAfterSeconds`, with the `RateLimit`
    /// fields `headers` and `Retry-After`.
    func response(policy: String?, retryAfterSeconds: Int, headers: [(name: String, value: String)]) -> EdgeResponse {
        let key = Key(policy: policy ?? "?", retryAfterSeconds: retryAfterSeconds)
        var response = self.problems.withLock { problems in
            if let problem = problems[key] { return problem }
            let problem = EdgeResponse.problem(429, "Too Many Requests", "rate limit '\(key.policy)' exceeded; retry after \(retryAfterSeconds) s")
            if problems.count >= self.capacity { problems.removeAll(keepingCapacity: true) }
            problems[key] = problem
            return problem
        }
        // Room for `Retry-After` and the `X-Request-ID` every answer gets, so neither grows the list again.
        response.headers.reserveCapacity(response.headers.count + headers.count + 2)
        response.headers += headers
        response.headers.append(("Retry-After", String(retryAfterSeconds)))
        return response
    }
}
