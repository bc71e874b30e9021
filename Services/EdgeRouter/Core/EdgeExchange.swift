import GatehouseObservability

/// A request as the edge's pipeline sees it, independent of the HTTP server that read it.
package struct EdgeRequest: Sendable {
    /// The method, upper-case.
    package var method: String
    /// The path, without the query.
    package var path: String
    /// The query string without `?`, if any.
    package var query: String?
    /// Header fields, names lower-case.
    package var headers: RequestFields
    /// The body (bounded by the server), or its start when ``bodyStream`` follows.
    package var body: [UInt8]
    /// The client's address: the TCP peer, or from `X-Forwarded-For` when the peer is a trusted proxy.
    package var clientIP: String
    /// `X-Request-ID`, received or generated.
    package var requestID: String
    /// The rest of a body longer than its HTTP upstream route's bound, forwarded as it arrives; `nil` when
    /// ``body`` is all of it.
    var bodyStream: BodyStream?
    /// Says when the client closed its connection, for an upstream exchange only this request waits for;
    /// `nil` for a request that did not come from the HTTP server.
    var departure: ClientDeparture?
    /// The scheme the client used: `https` when a trusted proxy said so (`X-Forwarded-Proto`, `Forwarded:
    /// proto=`), else `http`.
    package var scheme: String

    /// Creates a request.
    package init(
        method: String, path: String, query: String?, headers: RequestFields, body: [UInt8], clientIP: String, requestID: String,
        scheme: String = "http"
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.clientIP = clientIP
        self.requestID = requestID
        self.scheme = scheme
    }

    /// A header field by lower-case name.
    package func header(_ name: String) -> String? {
        self.headers[name]
    }
}

/// A response of the edge's pipeline.
package struct EdgeResponse: Sendable, Equatable {
    /// The status code.
    package var status: Int
    /// Header fields, in order.
    package var headers: [(name: String, value: String)]
    /// The body, or its start when ``bodyStream`` follows.
    package var body: [UInt8]
    /// The rest of an HTTP upstream's body that is longer than its route's bound, written to the client as
    /// it arrives; `nil` when ``body`` is all of it. Such an answer is never cached nor shared; dropped
    /// unwritten (a `304` made of it, a `HEAD`), its upstream connection is closed.
    var bodyStream: BodyStream?

    /// Creates a response.
    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A header's value by name (case-insensitive).
    package func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// An RFC 9457 problem (`application/problem+json`), with `type` `about:blank`.
    package static func problem(_ status: Int, _ title: String, _ detail: String, headers: [(name: String, value: String)] = []) -> EdgeResponse {
        let problem = AdminResponse.problem(status: status, title: title, detail: detail, headers: headers)
        return EdgeResponse(status: problem.status, headers: problem.headers, body: problem.body)
    }

    package static func == (lhs: EdgeResponse, rhs: EdgeResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.bodyStream === rhs.bodyStream && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}
