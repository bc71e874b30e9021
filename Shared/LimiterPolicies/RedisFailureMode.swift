/// What a policy decides when Redis is unreachable or slower than the limiter's timeout.
public enum RedisFailureMode: String, Sendable, Hashable, CaseIterable {
    /// Let the request through (availability over protection). The default.
    case allow
    /// Refuse the request (protection over availability).
    case deny
    /// Decide with an in-process GCRA at `limit ÷ replicas`, so the replicas together stay near the limit.
    case local
}
