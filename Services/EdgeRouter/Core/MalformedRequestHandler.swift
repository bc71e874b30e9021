import GatehouseObservability
import NIOCore
import NIOHTTP1

/// Answers a request that is not valid HTTP/1.1 with a `400` problem (`application/problem+json`), and one
/// whose head is over the decoder's limits (`http.max_head_bytes`, ``EdgeHTTPServer/maximumHeaderFields``)
/// with a `431` problem, before the decoder closes the connection, unless a response has already begun.
/// NIO's decoder closes the connection right after reporting the error, so the answer is written here,
/// synchronously, as NIO's own `HTTPServerProtocolErrorHandler` does with an empty `400`. A request already
/// refused with `Connection: close` (a `413`, or a `501` for a transfer coding the decoder then fails on
/// too) is not answered twice.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseOpen = false
    /// Whether an answer with `Connection: close` has begun: nothing more is answered on this connection.
    private var closing = false
    private let maximumHeadBytes: Int

    /// - Parameter maximumHeadBytes: `http.max_head_bytes`, for the `431` answer's detail.
    init(maximumHeadBytes: Int) {
        self.maximumHeadBytes = maximumHeadBytes
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError, !self.responseOpen, !self.closing {
            let problem =
                error == .headerOverflow
                ? AdminResponse.problem(
                    status: 431, title: "Request Header Fields Too Large",
                    detail: "the request line and header fields are larger than \(self.maximumHeadBytes) bytes"
                        + " or more than \(EdgeHTTPServer.maximumHeaderFields) fields"
                )
                : AdminResponse.problem(status: 400, title: "Bad Request", detail: "the request is not valid HTTP/1.1: \(error)")
            var headers = HTTPHeaders(problem.headers)
            headers.add(name: "Content-Length", value: String(problem.body.count))
            headers.add(name: "Connection", value: "close")
            let status = HTTPResponseStatus(statusCode: problem.status)
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: problem.body)))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            self.responseOpen = true
            if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) { self.closing = true }
        case .end: self.responseOpen = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
