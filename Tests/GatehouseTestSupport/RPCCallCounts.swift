import GatehouseRPC
import Synchronization

/// RPC calls a test server received, per method name.
public final class RPCCallCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Creates empty counts.
    public init() {}

    /// Counts one call of `method`.
    public func record(_ method: String) {
        self.counts.withLock { $0[method, default: 0] += 1 }
    }

    /// The calls so far, per method name.
    public var snapshot: [String: Int] { self.counts.withLock { $0 } }
}

extension RPCHandlerRegistry {
    /// Adds the handler for a method, counting each call in `counts`.
    public mutating func register<Request, Response>(
        _ method: RPCMethod<Request, Response>, countedIn counts: RPCCallCounts, handler: @escaping @Sendable (Request) async throws -> Response
    ) {
        self.register(method) { request, _ in
            counts.record(method.name)
            return try await handler(request)
        }
    }
}
