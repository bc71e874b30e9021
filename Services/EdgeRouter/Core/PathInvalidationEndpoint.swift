import GatehouseAuthAPI
import GatehouseObservability

/// `POST /_gatehouse/invalidate` on the edge's admin port, for an upstream that changed data by itself:
/// drops the body's paths (``PathInvalidationMessage``, e.g. `{"paths":["/articles/7","/articles"]}`) from
/// this edge's cache at once and publishes them for the other edges. The caller needs a bearer token of
/// the issuer with the scope ``requiredScope``, verified by the edge's own ``AccessTokenVerifier``.
/// Every refusal is an RFC 9457 problem; success is `200` `{"paths":[…],"dropped":N}`, the normalized
/// paths and the entries this edge dropped.
struct PathInvalidationEndpoint: Sendable {
    /// The path of the endpoint.
    static let path = "/_gatehouse/invalidate"
    /// The scope a token needs.
    static let requiredScope = "gatehouse:invalidate"
    /// The largest body.
    static let maximumBodyBytes = 256 * 1024

    let verifier: AccessTokenVerifier
    let authEvents: AuthEventApplier
    let cache: ResponseCache
    let publisher: PathInvalidationPublisher

    /// The endpoint for the admin server.
    var adminEndpoint: AdminEndpoint {
        AdminEndpoint(path: Self.path, method: "POST", maximumBodyBytes: Self.maximumBodyBytes) { await self.respond(to: $0) }
    }

    /// Answers one request.
    func respond(to request: AdminEndpoint.Request) async -> AdminResponse {
        guard let authorization = request.header("authorization"), EdgeGateway.isBearerScheme(authorization) else {
            return Self.admin(.problem(
                401, "Unauthorized", "\(Self.path) needs a bearer token with the scope \(Self.requiredScope)",
                headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)]
            ))
        }
        guard let token = EdgeGateway.bearerToken(authorization).map(String.init) else { return Self.admin(EdgeGateway.invalidToken(.malformed)) }
        var verified = await self.verifier.verify(token)
        if case .failure(.unknownKey) = verified, await self.authEvents.unknownKeySeen() {
            verified = await self.verifier.verify(token)
        }
        let claims: AccessTokenClaims
        switch verified {
        case .success(let valid): claims = valid
        case .failure(let rejection): return Self.admin(EdgeGateway.invalidToken(rejection))
        }
        guard claims.scopes.contains(Self.requiredScope) else {
            return Self.admin(.problem(
                403, "Forbidden", "the token lacks the scope \(Self.requiredScope)",
                headers: [("WWW-Authenticate", #"Bearer realm="gatehouse", error="insufficient_scope", scope=""# + Self.requiredScope + "\"")]
            ))
        }
        let mediaType = request.header("content-type")?.split(separator: ";").first?.trimmingASCIISpaces().lowercased()
        guard mediaType == "application/json" else {
            return Self.admin(.problem(
                415, "Unsupported Media Type", #"the body must be application/json, such as {"paths":["/articles/7","/articles"]}"#,
                headers: [("Accept-Post", "application/json")]
            ))
        }
        let message: PathInvalidationMessage
        do {
            message = try PathInvalidationMessage(json: request.body)
        } catch {
            return Self.admin(.problem(400, "Bad Request", error.reason))
        }
        let dropped = self.cache.invalidate(message.paths.map { .path($0) })
        self.publisher.publish(message.paths)
        let body = #"{"paths":"# + message.pathsJSON + #","dropped":\#(dropped)}"#
        return AdminResponse(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: Array(body.utf8))
    }

    private static func admin(_ response: EdgeResponse) -> AdminResponse {
        AdminResponse(status: response.status, headers: response.headers, body: response.body)
    }
}
