import ArgumentParser
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix

/// `gatehouse-bench http-floor`: an HTTP/1.1 server that answers every request with the same 300-byte JSON
/// body and does nothing else, on bare SwiftNIO or on Hummingbird: the floor under any HTTP front in Swift
/// on this machine, next to nginx in `bench/http-floor.sh`.
struct HTTPFloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http-floor", abstract: "Answer every HTTP request with a fixed JSON body.")

    /// The two fronts measured.
    enum Server: String, ExpressibleByArgument, CaseIterable {
        case nio
        case hummingbird
    }

    @Option(help: "nio (a ChannelHandler on each connection's event loop) or hummingbird (a Router).") var server = Server.nio
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port, printed on start).") var port = 0

    static let body = #"{"id":"doc-000001","body":""# + String(repeating: "x", count: 270) + #""}"#

    func run() async throws {
        switch self.server {
        case .nio:
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(FixedAnswerHandler())
                    }
                }
                .bind(host: self.host, port: self.port).get()
            FileHandle.standardOutput.write(Data("listening on \(self.host):\(channel.localAddress?.port ?? self.port)\n".utf8))
            try await channel.closeFuture.get()
        case .hummingbird:
            let router = Router()
            router.get("**") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: Self.body)))
            }
            let host = self.host
            let app = Application(router: router, configuration: .init(address: .hostname(host, port: self.port)), onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening on \(host):\(channel.localAddress?.port ?? 0)\n".utf8))
            })
            try await app.runService()
        }
    }
}

/// Answers each request with ``HTTPFloorCommand/body``.
final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let body = ByteBuffer(string: HTTPFloorCommand.body)
    private var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(Self.body.readableBytes))
            if !self.keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(Self.body))), promise: nil)
            let keepAlive = self.keepAlive
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { loopBound.value.close(promise: nil) }
            }
        }
    }
}
