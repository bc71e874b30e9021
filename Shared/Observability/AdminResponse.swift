/// A complete HTTP response of the admin endpoints, built by pure functions that tests can call.
public struct AdminResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// Header fields in order, without `Content-Length`, which the server adds.
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    ///
    /// - Parameters:
    ///   - status: The HTTP status code.
    ///   - headers: Header fields, without `Content-Length`.
    ///   - body: The body bytes.
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header called `name` (case-insensitive), if any.
    public func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body decoded as UTF-8.
    public var bodyText: String {
        String(decoding: self.body, as: UTF8.self)
    }

    /// `200` with the Prometheus text exposition format 0.0.4.
    ///
    /// - Parameter exposition: The rendered registry, e.g. `PrometheusCollectorRegistry.emitToBuffer()`.
    public static func metrics(_ exposition: [UInt8]) -> AdminResponse {
        AdminResponse(
            status: 200,
            headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")],
            body: exposition
        )
    }

    /// `200` with `{"status":"ok"}`: the process is alive and serving HTTP.
    public static func health() -> AdminResponse {
        Self.json(status: 200, #"{"status":"ok"}"#)
    }

    /// `200` when every check passed, `503` otherwise, with a JSON body listing each check.
    ///
    /// The body is `{"status":"ready"|"not ready","failing":[names],"checks":[{"name":…,"status":"pass"|"fail","reason":…}]}`;
    /// `reason` is present only for failed checks. No checks at all means ready.
    ///
    /// - Parameter results: The results of the readiness checks, in the order they were registered.
    public static func readiness(_ results: [ReadinessCheckResult]) -> AdminResponse {
        let failing = results.filter { !$0.passed }
        var body = failing.isEmpty ? #"{"status":"ready","failing":["# : #"{"status":"not ready","failing":["#
        body.append(failing.map { JSONString.quoted($0.name) }.joined(separator: ","))
        body.append(#"],"checks":["#)
        body.append(results.map(Self.checkObject).joined(separator: ","))
        body.append("]}")
        return Self.json(status: failing.isEmpty ? 200 : 503, body)
    }

    /// An RFC 9457 problem (`application/problem+json`) with `type` `about:blank`.
    ///
    /// - Parameters:
    ///   - status: The HTTP status code, repeated in the body.
    ///   - title: The status's reason phrase, e.g. `Not Found`.
    ///   - detail: What went wrong with this request and how to fix it.
    ///   - headers: Extra header fields, e.g. `Allow`.
    public static func problem(status: Int, title: String, detail: String, headers: [(name: String, value: String)] = []) -> AdminResponse {
        let body = #"{"type":"about:blank","title":"# + JSONString.quoted(title) + #","status":"# + String(status)
            + #","detail":"# + JSONString.quoted(detail) + "}"
        return AdminResponse(
            status: status,
            headers: [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")] + headers,
            body: Array(body.utf8)
        )
    }

    /// `404` problem naming the path and the endpoints that exist.
    ///
    /// - Parameter path: The requested path.
    public static func notFound(path: String) -> AdminResponse {
        Self.problem(
            status: 404,
            title: "Not Found",
            detail: "No admin endpoint at '\(path)'; the endpoints are /metrics, /healthz and /readyz."
        )
    }

    /// `405` problem with an `Allow` header.
    ///
    /// - Parameters:
    ///   - method: The method used.
    ///   - path: The requested path.
    ///   - allowed: The methods the endpoint accepts.
    public static func methodNotAllowed(method: String, path: String, allowed: [String]) -> AdminResponse {
        let allow = allowed.joined(separator: ", ")
        return Self.problem(
            status: 405,
            title: "Method Not Allowed",
            detail: "\(path) does not accept \(method); use \(allow).",
            headers: [("Allow", allow)]
        )
    }

    private static func json(status: Int, _ body: String) -> AdminResponse {
        AdminResponse(
            status: status,
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: Array(body.utf8)
        )
    }

    private static func checkObject(_ result: ReadinessCheckResult) -> String {
        var object = #"{"name":"# + JSONString.quoted(result.name)
        switch result.outcome {
        case .passed:
            object.append(#","status":"pass""#)
        case .failed:
            object.append(#","status":"fail","reason":"returned false""#)
        case .threw(let description):
            object.append(#","status":"fail","reason":"# + JSONString.quoted("threw: " + description))
        case .timedOut(let timeout):
            object.append(#","status":"fail","reason":"# + JSONString.quoted("timed out after \(timeout)"))
        }
        object.append("}")
        return object
    }
}
