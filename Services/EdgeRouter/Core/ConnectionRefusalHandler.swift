import GatehouseObservability
import Metrics
import NIOCore

/// The whole pipeline of a connection accepted past `http.max_connections`: it answers at once, without
/// reading a request, with a `503` problem (`Retry-After: 1`, `Connection: close`), then closes its side and
/// discards what the client sends until the client closes too, at most ``linger`` later. Closing a socket
/// with unread bytes would reset the connection and could destroy the answer before the client reads it;
/// Go's HTTP server waits the same way (`closeWriteAndWait`, 500 ms).
final class ConnectionRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// How long a refused connection stays open for the client to read the answer and close.
    static let linger = TimeAmount.milliseconds(500)

    /// The answer, encoded once.
    static func answer(maximumConnections: Int) -> [UInt8] {
        let problem = AdminResponse.problem(
            status: 503, title: "Service Unavailable",
            detail: "this edge holds its maximum of \(maximumConnections) connections; retry shortly",
            headers: [("Retry-After", "1")]
        )
        var head = "HTTP/1.1 503 Service Unavailable\r\n"
        for (name, value) in problem.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(problem.body.count)\r\nConnection: close\r\nServer: gatehouse-edge\r\n\r\n"
        return Array(head.utf8) + problem.body
    }

    private let answer: [UInt8]
    private var answered = false
    private var linger: Scheduled<Void>?

    /// - Parameter answer: ``answer(maximumConnections:)``.
    init(answer: [UInt8]) {
        self.answer = answer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Discarded: the answer does not depend on the request.
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.linger?.cancel()
        self.linger = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !self.answered else { return }
        self.answered = true
        EdgeMetrics.connectionsRefused.increment()
        let channel = context.channel
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: self.answer))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        self.linger = context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
    }
}
