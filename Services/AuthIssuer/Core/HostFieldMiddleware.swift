import GatehouseNIOSupport
import HTTPTypes
import Hummingbird

/// Refuses, with a `400` problem, a request whose `Host` RFC 9112 §3.2 says a server must refuse: none, more
/// than one, or one that is not `host[:port]`. (Hummingbird's request has no HTTP version, so an HTTP/1.0
/// request without `Host`, which the standard allows, is refused too; every HTTP client sends one.)
struct HostFieldMiddleware: RouterMiddleware {
    typealias Context = AuthRequestContext

    private static let host = HTTPField.Name("Host")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The first `Host` line is the request's authority; any further one stays a field named `Host`.
        let extra = request.headers[values: Self.host].count
        guard let authority = request.head.authority else {
            return ProblemMiddleware.problem(status: .badRequest, detail: "the request needs a Host header field")
        }
        guard extra == 0 else {
            return ProblemMiddleware.problem(status: .badRequest, detail: "the request has \(extra + 1) Host header fields; it may have one")
        }
        guard HostFieldValue.isValid(authority) else {
            return ProblemMiddleware.problem(status: .badRequest, detail: "the Host header field is not a valid host[:port]")
        }
        return try await next(request, context)
    }
}
