import Foundation
import GatehouseObservability
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The issuer's public HTTP API on Hummingbird (docs/openapi/auth-issuer.yaml):
///
/// | Request | Answer |
/// | --- | --- |
/// | `POST /oauth/token` | RFC 6749 token response, or an RFC 6749 §5.2 error |
/// | `POST /oauth/revoke` | `200` (RFC 7009), or an RFC 6749 §5.2 error |
/// | `GET /.well-known/jwks.json` | the JWKS (RFC 7517) |
/// | `GET /.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` | metadata (RFC 8414) |
///
/// `HEAD` is answered wherever `GET` is (RFC 9110 §9.1). A known path asked with another method is `405`
/// with `Allow`; a request without a valid single `Host` is `400` (``HostFieldMiddleware``). Anything else,
/// a body over the limit, or a request Hummingbird cannot read is an RFC 9457 problem
/// (`application/problem+json`) with a 4xx status; an unexpected failure is a 500 problem and a log line.
package enum AuthHTTPServer {
    /// The methods each path answers, for `405`'s `Allow`.
    static let allowedMethods: [String: String] = [
        "/oauth/token": "POST",
        "/oauth/revoke": "POST",
        "/.well-known/jwks.json": "GET, HEAD",
        "/.well-known/openid-configuration": "GET, HEAD",
        "/.well-known/oauth-authorization-server": "GET, HEAD",
    ]

    /// Builds the application; run it in a `ServiceGroup`.
    /// - Parameters:
    ///   - tokens: The OAuth logic.
    ///   - keys: The signing keys, for the JWKS.
    ///   - policy: The issuer URL and lifetimes, for the metadata.
    ///   - http: Address, port and body limit.
    ///   - logger: Receives server events.
    ///   - onListening: Called with the bound port.
    package static func application(
        tokens: TokenService, keys: SigningKeyRing, policy: TokenPolicy, http: AuthIssuerConfiguration.HTTP, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: AuthRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ProblemMiddleware(logger: logger))
        router.add(middleware: HostFieldMiddleware())
        let maxBody = http.maxBodyBytes
        router.post("/oauth/token") { request, context in
            let body = try await request.body.collect(upTo: maxBody)
            do throws(OAuthError) {
                let parameters = try OAuthParameters(body: Array(buffer: body), contentType: request.headers[.contentType])
                let response = try await tokens.token(parameters, authorization: request.headers[.authorization], clientIP: context.clientIP)
                return Self.json(status: .ok, text: response.jsonText)
            } catch {
                return Self.oauthError(error)
            }
        }
        router.post("/oauth/revoke") { request, context in
            let body = try await request.body.collect(upTo: maxBody)
            do throws(OAuthError) {
                let parameters = try OAuthParameters(body: Array(buffer: body), contentType: request.headers[.contentType])
                try await tokens.revoke(parameters, authorization: request.headers[.authorization], clientIP: context.clientIP)
                return Response(status: .ok, headers: [.cacheControl: "no-store"])
            } catch {
                return Self.oauthError(error)
            }
        }
        router.get("/.well-known/jwks.json") { _, _ in
            guard let snapshot = keys.current else {
                throw HTTPError(.serviceUnavailable, message: "no signing key is loaded yet")
            }
            // Short caching: edges also refetch on key events and on an unknown kid.
            return Response(
                status: .ok,
                headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=60"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: snapshot.jwksJSON))
            )
        }
        let metadata = ByteBuffer(string: Self.metadataJSON(policy))
        for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=3600"],
                    body: ResponseBody(byteBuffer: metadata)
                )
            }
        }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: ApplicationConfiguration(address: .hostname(http.host, port: http.port), serverName: "gatehouse-auth"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? http.port) },
            logger: logger
        )
    }

    /// The RFC 8414 authorization server metadata.
    static func metadataJSON(_ policy: TokenPolicy) -> String {
        let base = policy.issuer.hasSuffix("/") ? String(policy.issuer.dropLast()) : policy.issuer
        let metadata: [String: Any] = [
            "issuer": policy.issuer,
            "jwks_uri": "\(base)/.well-known/jwks.json",
            "token_endpoint": "\(base)/oauth/token",
            "revocation_endpoint": "\(base)/oauth/revoke",
            "grant_types_supported": ["password", "client_credentials", "refresh_token"],
            "response_types_supported": [String](),
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
            // Not in RFC 8414; the algorithms this issuer's access tokens may be signed with.
            "access_token_signing_alg_values_supported": ["ES256", "EdDSA"],
            "scopes_supported": ScopeSet(policy.userScopes).scopes,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON answer that must not be cached (RFC 6749 §5.1).
    static func json(status: HTTPResponse.Status, text: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store", pragma: "no-cache"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    // Swift HTTP Types names no `Pragma`; RFC 6749 §5.1 still asks for it, for HTTP/1.0 caches.
    private static let pragma = HTTPField.Name("Pragma")!

    /// An RFC 6749 §5.2 error answer.
    static func oauthError(_ error: OAuthError) -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": error.code.rawValue, "error_description": error.message], options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"\#(error.code.rawValue)"}"#
        var response = Self.json(status: HTTPResponse.Status(code: error.status), text: body)
        if error.code == .invalidClient {
            response.headers[.wwwAuthenticate] = #"Basic realm="gatehouse", charset="UTF-8""#
        }
        if let seconds = error.retryAfterSeconds {
            response.headers[.retryAfter] = "\(seconds)"
        }
        return response
    }
}

/// Turns every error that escapes a route (unknown path, wrong method, oversized body, unreadable request)
/// into an RFC 9457 problem, so no client ever sees an empty or HTML error.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AuthRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, let allowed = AuthHTTPServer.allowedMethods[request.uri.path] {
                var response = Self.problem(status: .methodNotAllowed, detail: "\(request.method) is not allowed on \(request.uri.path); use \(allowed)")
                response.headers[.allow] = allowed
                return response
            }
            let detail: String
            switch error.status {
            case .notFound: detail = "no endpoint at \(request.method) \(request.uri.path); see /.well-known/openid-configuration"
            case .contentTooLarge: detail = "the request body is larger than this endpoint accepts"
            default: detail = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            return Self.problem(status: error.status, detail: detail)
        } catch {
            self.logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            return Self.problem(status: .internalServerError, detail: "the issuer failed to answer; the error is logged")
        }
    }

    static func problem(status: HTTPResponse.Status, detail: String) -> Response {
        let problem = AdminResponse.problem(status: status.code, title: status.reasonPhrase, detail: detail)
        var headers = HTTPFields()
        for (name, value) in problem.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: problem.body)))
    }
}
