import ArgumentParser
import Foundation
import GatehouseLimiterAPI
import GatehouseNIOSupport
import GatehouseRPC
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `gatehouse-bench http-floor`: an HTTP/1.1 server that answers every request with the same 300-byte JSON
/// body and does nothing else, on bare SwiftNIO or on Hummingbird: the floor under any HTTP front in Swift
/// on this machine, next to nginx in `bench/http-floor.sh`.
///
/// With `--hop-port`, the bare SwiftNIO server first sends 8 bytes per request to a `--server echo` on that
/// port and answers when they come back: the floor under a front that makes one loopback round trip per
/// request (as the edge does to the limiter), with nothing decided at either end. Each event loop has one
/// connection to the echo server, and a loop tick's requests leave in one `write(2)`.
///
/// With `--limiter-port`, each request is first decided by a real limiter on that port, the way the edge
/// asks it: through the limiter client's batching (``LimiterClient/acquire(_:traceID:)``: one
/// `limiter.AcquireBatch` per event-loop tick under load), for its cost alone (no lease), from a task on the
/// connection's event loop, for one caller and a policy far from its limit. That is the floor under any
/// front that asks the limiter once per request: the edge with nothing else to do.
struct HTTPFloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http-floor", abstract: "Answer every HTTP request with a fixed JSON body.")

    /// The two fronts measured, and the echo server of `--hop-port`.
    enum Server: String, ExpressibleByArgument, CaseIterable {
        case nio
        case hummingbird
        case echo
    }

    @Option(help: "nio (a ChannelHandler on each connection's event loop), hummingbird (a Router), or echo (a TCP server sending back what it reads, for --hop-port).")
    var server = Server.nio
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port, printed on start).") var port = 0
    @Option(help: "With --server nio: the port of a --server echo that each request makes one round trip to before its answer.")
    var hopPort: Int?
    @Option(help: "With --server nio: the RPC port of a limiter that decides each request before its answer (secret in $GATEHOUSE_RPC_SECRET).")
    var limiterPort: Int?
    @Option(help: "With --limiter-port: the limiter policy each request is checked against.") var policy = "bench"

    static let body = #"{"id":"doc-000001","body":""# + String(repeating: "x", count: 270) + #""}"#

    func validate() throws {
        if self.hopPort != nil, self.server != .nio {
            throw ValidationError("--hop-port is for --server nio only, not --server \(self.server.rawValue)")
        }
        if self.limiterPort != nil, self.server != .nio || self.hopPort != nil {
            throw ValidationError("--limiter-port is for --server nio without --hop-port")
        }
    }

    func run() async throws {
        switch self.server {
        case .nio:
            var hops: [ObjectIdentifier: any Channel] = [:]
            if let hopPort = self.hopPort { hops = try await Self.hopConnections(host: self.host, port: hopPort) }
            let hopsByLoop = hops
            let limiter = try self.limiterPort.map { try FloorLimiterCheck(port: $0, host: self.host, policy: self.policy) }
            try await withThrowingTaskGroup { group in
                if let limiter { group.addTask { try await limiter.client.run() } }
                try await self.serve { channel in
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        FixedAnswerHandler(hop: hopsByLoop[ObjectIdentifier(channel.eventLoop)], limiter: limiter, eventLoop: channel.eventLoop)
                    )
                }
                group.cancelAll()
            }
        case .echo:
            try await self.serve { channel in try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
        case .hummingbird:
            let router = Router()
            router.get("**") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: Self.body)))
            }
            let host = self.host
            let app = Application(router: router, configuration: .init(address: .hostname(host, port: self.port)), onServerRunning: { channel in
                Self.announce(host: host, port: channel.localAddress?.port ?? 0)
            })
            try await app.runService()
        }
    }

    /// Accepts connections on `host:port`, sets each one's pipeline up with `initialize` on its own loop, and
    /// runs until the server closes.
    private func serve(_ initialize: @escaping @Sendable (any Channel) throws -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initialize(channel) } }
            .bind(host: self.host, port: self.port).get()
        Self.announce(host: self.host, port: channel.localAddress?.port ?? self.port)
        try await channel.closeFuture.get()
    }

    /// One connection to the echo server per event loop, keyed by the loop.
    private static func hopConnections(host: String, port: Int) async throws -> [ObjectIdentifier: any Channel] {
        var hops: [ObjectIdentifier: any Channel] = [:]
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            hops[ObjectIdentifier(loop)] = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(FlushCoalescingHandler(), HopClientHandler())
                    }
                }
                .connect(host: host, port: port).get()
        }
        return hops
    }

    /// The line `bench/http-floor.sh` waits for.
    private static func announce(host: String, port: Int) {
        FileHandle.standardOutput.write(Data("listening on \(host):\(port)\n".utf8))
    }
}

/// Answers each request with ``HTTPFloorCommand/body``, after a round trip through `hop` when there is one.
final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let body = ByteBuffer(string: HTTPFloorCommand.body)
    private var keepAlive = true
    private let hop: (any Channel)?
    private let limiter: FloorLimiterCheck?
    private let executor: EventLoopTaskExecutor

    init(hop: (any Channel)?, limiter: FloorLimiterCheck?, eventLoop: any EventLoop) {
        self.hop = hop
        self.limiter = limiter
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            if let limiter = self.limiter {
                self.executor.run({ await limiter.check() }) { _ in self.answer(context: context) }
                return
            }
            guard let hop = self.hop else {
                self.answer(context: context)
                return
            }
            let answered = context.eventLoop.makePromise(of: Void.self)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            answered.futureResult.whenSuccess {
                let (handler, context) = loopBound.value
                handler.answer(context: context)
            }
            hop.writeAndFlush(answered, promise: nil)
        }
    }

    private func answer(context: ChannelHandlerContext) {
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

/// The limiter decision of `--limiter-port`: the edge's way of asking (the limiter client's batched
/// ``LimiterClient/acquire(_:traceID:)``), without its handling of the answer.
final class FloorLimiterCheck: Sendable {
    let client: RPCClient
    private let request: LimiterRequest
    private let limiter: LimiterClient

    init(port: Int, host: String, policy: String) throws {
        var logger = Logger(label: "gatehouse-bench.http-floor")
        logger.logLevel = .warning
        let client = RPCClient(
            configuration: RPCClientConfiguration(
                host: host, port: port, secret: try RPCSecret(benchSecret(from: "GATEHOUSE_RPC_SECRET")), clientName: "gatehouse-bench",
                defaultCallTimeout: .seconds(10)
            ),
            logger: logger
        )
        self.client = client
        self.request = LimiterRequest(caller: "bench", items: [.init(policy: policy, key: "floor-subject")])
        self.limiter = LimiterClient(rpc: client, logger: logger)
    }

    /// One check; a failure is printed (the floor answers anyway).
    func check() async {
        do {
            _ = try await self.limiter.acquire(self.request).get()
        } catch {
            FileHandle.standardError.write(Data("limiter check failed: \(error)\n".utf8))
        }
    }
}

/// One event loop's connection to the echo server: sends 8 bytes per request and succeeds the request's
/// promise when they come back (the echo answers in order).
final class HopClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = EventLoopPromise<Void>
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<EventLoopPromise<Void>>()
    private var received = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.waiting.append(self.unwrapOutboundIn(data))
        context.write(self.wrapOutboundOut(context.channel.allocator.buffer(integer: UInt64(0))), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let next = self.waiting.popFirst() {
            next.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += self.unwrapInboundIn(data).readableBytes
        while self.received >= 8, let next = self.waiting.popFirst() {
            self.received -= 8
            next.succeed()
        }
    }
}

/// Sends back whatever it reads, flushing once per read burst.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}
