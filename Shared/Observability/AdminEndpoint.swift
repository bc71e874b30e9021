/// An endpoint a service adds to its ``AdminServer`` beside `/metrics`, `/healthz` and `/readyz`: one path
/// and method, whose request body (up to ``maximumBodyBytes``) the server reads before calling ``respond``.
public struct AdminEndpoint: Sendable {
    /// The request a ``respond`` closure answers.
    public struct Request: Sendable {
        /// Header fields in order.
        public var headers: [(name: String, value: String)]
        /// The body, at most the endpoint's ``AdminEndpoint/maximumBodyBytes``.
        public var body: [UInt8]

        /// Creates a request.
        public init(headers: [(name: String, value: String)], body: [UInt8]) {
            self.headers = headers
            self.body = body
        }

        /// The value of the first header called `name` (case-insensitive), if any.
        public func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// The path, e.g. `/_gatehouse/invalidate`.
    public let path: String
    /// The one method it accepts, e.g. `POST`; others get `405`.
    public let method: String
    /// The largest body; a larger one gets `413` without a call to ``respond``.
    public let maximumBodyBytes: Int
    /// Answers a request.
    public let respond: @Sendable (Request) async -> AdminResponse

    /// Creates an endpoint.
    /// - Parameters:
    ///   - path: The path.
    ///   - method: The one method it accepts.
    ///   - maximumBodyBytes: The largest body.
    ///   - respond: Answers a request.
    public init(path: String, method: String, maximumBodyBytes: Int, respond: @escaping @Sendable (Request) async -> AdminResponse) {
        self.path = path
        self.method = method
        self.maximumBodyBytes = maximumBodyBytes
        self.respond = respond
    }
}
