import NIOCore
import NIOHTTP1
import NIOPosix

/// The active health check of one HTTP upstream (its route's `health_check:`): every `interval`, each
/// address is sent `GET path` over a connection of its own (never a pooled one, so a probe measures the
/// address, not a kept-alive connection), with `Connection: close`; an answer `2xx` or `3xx` whose head
/// comes within `timeout`, connecting included, passes, anything else fails. The verdicts go to the
/// upstream's address selector (``HTTPUpstream/recordProbe(_:passed:check:)``).
struct UpstreamHealthProbe: Sendable {
    /// What to probe, how often, and the thresholds.
    let check: UpstreamHealthCheck
    /// The upstream whose addresses are probed.
    let upstream: HTTPUpstream
    /// The loop the probes' connections run on.
    let eventLoop: any EventLoop

    /// Probes every address, round after round, until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            let started = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for (index, address) in self.upstream.addresses.enumerated() {
                    group.addTask {
                        let passed = await Self.probe(address, path: self.check.path, timeout: self.check.timeout, on: self.eventLoop)
                        self.upstream.recordProbe(index, passed: passed, check: self.check)
                    }
                }
            }
            try? await Task.sleep(until: started + self.check.interval)
        }
    }

    /// One probe: whether `address` answers `GET path` with a `2xx` or `3xx` head within `timeout`.
    static func probe(_ address: UpstreamAddress, path: String, timeout: Duration, on eventLoop: any EventLoop) async -> Bool {
        let status = eventLoop.makePromise(of: HTTPResponseStatus.self)
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { status.fail(ChannelError.connectTimeout(TimeAmount(timeout))) }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: address.key)
        headers.add(name: "User-Agent", value: "gatehouse-health-check")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusReader(status: status))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    status.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    status.fail(error)
                }
            }
        let answered = try? await status.futureResult.get()
        timer.cancel()
        return answered.map { (200..<400).contains($0.code) } ?? false
    }

    /// Completes the promise with the answer's status as soon as its head arrives (or fails it when the
    /// connection closes or errs first).
    private final class StatusReader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        let status: EventLoopPromise<HTTPResponseStatus>

        init(status: EventLoopPromise<HTTPResponseStatus>) { self.status = status }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = self.unwrapInboundIn(data) { self.status.succeed(head.status) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.status.fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.status.fail(error)
            context.close(promise: nil)
        }
    }
}
