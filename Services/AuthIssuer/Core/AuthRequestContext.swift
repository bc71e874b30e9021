import Hummingbird
import NIOCore

/// The request context of the issuer's HTTP server: Hummingbird's core storage plus the peer address
/// (brute-force protection counts failures per client IP) and the body limit.
package struct AuthRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    package var coreContext: CoreRequestContextStorage
    /// The TCP peer's IP address, `unknown` for a socket without one.
    package let clientIP: String

    /// Creates the context for a request on `source.channel`.
    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientIP = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
