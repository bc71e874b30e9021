import Foundation
import Logging
import SwiftProtobuf

/// The methods an ``RPCServer`` answers, each with its handler.
///
/// ```swift
/// var handlers = RPCHandlerRegistry()
/// handlers.register(LimiterMethods.check) { request, context in try await limiter.check(request) }
/// ```
public struct RPCHandlerRegistry: Sendable {
    /// Decodes a request payload, runs the handler, encodes the answer.
    typealias ErasedHandler = @Sendable (Data, RPCCallContext) async throws -> Data

    private(set) var handlers: [String: ErasedHandler] = [:]

    /// Creates an empty registry.
    public init() {}

    /// Adds (or replaces) the handler for a method.
    /// - Parameters:
    ///   - method: The method to answer.
    ///   - handler: Computes the response; throw ``RPCError`` to send a typed failure. Any other error is
    ///     logged and answered as `internal`, without its text.
    public mutating func register<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        handler: @escaping @Sendable (Request, RPCCallContext) async throws -> Response
    ) {
        self.handlers[method.name] = { payload, context in
            let request: Request
            do {
                request = try Request(serializedBytes: payload)
            } catch {
                throw RPCError(.invalidArgument, "payload is not a valid \(Request.protoMessageName) message")
            }
            let response = try await handler(request, context)
            return try response.serializedBytes()
        }
    }

    /// The names of all registered methods.
    public var methodNames: [String] { self.handlers.keys.sorted() }
}
