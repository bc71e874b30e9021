@testable import EdgeRouterCore
import Testing

/// The `429` answered to a request over its limit.
struct RateLimitRefusalTests {
    @Test func theAnswerIsAProblemNamingThePolicyWithTheRateLimitFieldsThenRetryAfter() {
        let refusals = RateLimitRefusal(capacity: 2)
        let limits = [(name: "RateLimit-Policy", value: #""user";q=10;w=60"#), (name: "RateLimit", value: #""user";r=0;t=7"#)]
        let answer = refusals.response(policy: "user", retryAfterSeconds: 7, headers: limits)
        #expect(answer.status == 429)
        #expect(answer.headers.map(\.name) == ["Content-Type", "Cache-Control", "RateLimit-Policy", "RateLimit", "Retry-After"])
        #expect(answer.header("Content-Type") == "application/problem+json")
        #expect(answer.header("Retry-After") == "7")
        #expect(answer.body == EdgeResponse.problem(429, "Too Many Requests", "rate limit 'user' exceeded; retry after 7 s").body)
        // Kept bodies are the same as new ones, for other policies and times too, past the bound.
        for (policy, seconds) in [("user", 7), ("burst", 1), ("user", 3), ("user", 7)] {
            let again = refusals.response(policy: policy, retryAfterSeconds: seconds, headers: [])
            #expect(String(decoding: again.body, as: UTF8.self).contains("rate limit '\(policy)' exceeded; retry after \(seconds) s"))
            #expect(again.header("Retry-After") == "\(seconds)")
        }
    }
}
