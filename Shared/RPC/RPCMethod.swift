import SwiftProtobuf

/// A typed RPC method: its wire name and the protobuf messages it takes and returns.
///
/// Services declare their methods once, for example
/// `static let check = RPCMethod<CheckRequest, CheckResponse>("limiter.Check")`,
/// and both the server's ``RPCHandlerRegistry`` and ``RPCClient/call(_:_:timeout:traceID:)`` use it.
public struct RPCMethod<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>: Sendable {
    /// The name carried in every request envelope, `service.Method` by convention.
    public let name: String

    /// Declares a method.
    /// - Parameter name: The wire name, `service.Method` by convention.
    public init(_ name: String) {
        self.name = name
    }
}
