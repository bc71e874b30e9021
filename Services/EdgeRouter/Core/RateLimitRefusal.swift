import Synchronization

/// The `429` problem answered to a request over its limit. A client over its limit is answered it on every
/// request, so the problem body is kept encoded per denying policy and retry time (at most `capacity` of
/// them; all are dropped when that many are kept).
final class RateLimitRefusal: Sendable {
    private struct Key: Hashable {
        var policy: String
        var retryAfterSeconds: Int
    }

    private let bodies = Mutex<[Key: [UInt8]]>([:])
    private let capacity: Int

    /// - Parameter capacity: How many encoded bodies are kept at most.
    init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// The `429` for a request denied by `policy`, to retry after `retryAfterSeconds`, with the `RateLimit`
    /// fields `headers` and `Retry-After`.
    func response(policy: String?, retryAfterSeconds: Int, headers: [(name: String, value: String)]) -> EdgeResponse {
        let key = Key(policy: policy ?? "?", retryAfterSeconds: retryAfterSeconds)
        let body = self.bodies.withLock { bodies in
            if let body = bodies[key] { return body }
            let body = EdgeResponse.problem(
                429, "Too Many Requests", "rate limit '\(key.policy)' exceeded; retry after \(retryAfterSeconds) s"
            ).body
            if bodies.count >= self.capacity { bodies.removeAll(keepingCapacity: true) }
            bodies[key] = body
            return body
        }
        var fields: [(name: String, value: String)] = [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")]
        fields.reserveCapacity(3 + headers.count)
        fields += headers
        fields.append(("Retry-After", String(retryAfterSeconds)))
        return EdgeResponse(status: 429, headers: fields, body: body)
    }
}
