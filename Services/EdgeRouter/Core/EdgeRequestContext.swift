import Hummingbird
import NIOCore

/// The request context of the edge's HTTP server: Hummingbird's core storage plus the TCP peer's address.
public struct EdgeRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer's IP address.
    public let peerIP: String

    /// Creates the context for a request on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerIP = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
