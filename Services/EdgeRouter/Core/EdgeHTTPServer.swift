import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The edge's public HTTP server on Hummingbird: every request goes to the ``EdgeRequestHandler`` (which
/// does its own routing from the route file); a body over the limit is a 413 problem before the pipeline.
public enum EdgeHTTPServer {
    /// Builds the application; run it in a `ServiceGroup`.
    /// - Parameters:
    ///   - handler: The pipeline.
    ///   - http: Address, port, body limit, idle and request timeouts.
    ///   - logger: Receives server events.
    ///   - onListening: Called with the bound port.
    public static func application(
        handler: EdgeRequestHandler, http: EdgeConfiguration.HTTP, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let maxBody = http.maxBodyBytes
        let proxies = http.trustedProxies
        let requestTimeout = http.requestTimeout
        let responder = CallbackResponder<EdgeRequestContext> { request, context in
            let requestID = request.headers[Self.requestID].flatMap { $0.count <= 128 && $0.allSatisfy { $0.isASCII && !$0.isWhitespace } ? $0 : nil }
                ?? UUID().uuidString.lowercased()
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxBody)
            } catch {
                var tooLarge = EdgeResponse.problem(413, "Content Too Large", "the body is larger than \(maxBody) bytes", headers: [("X-Request-ID", requestID)])
                if request.method == .head { tooLarge.body = [] }
                return Self.response(tooLarge)
            }
            var headers: [String: String] = [:]
            for field in request.headers {
                let name = field.name.canonicalName
                headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
            }
            let edgeRequest = EdgeRequest(
                method: request.method.rawValue, path: request.uri.path, query: request.uri.query, headers: headers, body: Array(buffer: body),
                clientIP: proxies.clientAddress(peer: context.peerIP, forwardedFor: headers["x-forwarded-for"]), requestID: requestID
            )
            return Self.response(await handler.handle(edgeRequest))
        }
        return Application(
            responder: responder,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [RequestDeadlineHandler(limit: requestTimeout, logger: logger)],
                    idleTimeout: TimeAmount(http.idleTimeout)
                )
            ),
            configuration: ApplicationConfiguration(address: .hostname(http.host, port: http.port), serverName: "gatehouse-edge"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? http.port) },
            logger: logger
        )
    }

    private static let requestID = HTTPField.Name("X-Request-ID")!

    static func response(_ response: EdgeResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: HTTPResponse.Status(code: response.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }
}
