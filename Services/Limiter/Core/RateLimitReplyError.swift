/// Redis answered the rate-limit script with something other than the documented reply: typically another
/// script under the same SHA1 or a proxy in between. Nothing can be concluded about the request.
package struct RateLimitReplyError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What was expected and what arrived.
    package let description: String

    init(reason: String) {
        self.description = "The rate-limit script's reply is malformed: \(reason)"
    }
}
