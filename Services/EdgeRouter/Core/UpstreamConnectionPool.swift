import NIOCore
import NIOHTTP1
import NIOPosix

/// The kept-alive connections of one event loop to an HTTP upstream's addresses: a request takes an idle
/// connection to its address or opens one, and a connection whose answer keeps it alive and was read to
/// its end (a streamed body included) goes back to the idle list (at most `maximumIdlePerAddress` per
/// address; more are closed). Once shut down, it closes its idle connections and each busy one when its
/// exchange ends. Connections live on the loop that uses them, so a request's bytes never cross threads.
/// Used on its event loop only (``HTTPUpstream`` reaches it through a `NIOLoopBound`).
final class UpstreamConnectionPool {
    /// What one request needs of a connection.
    struct Limits: Sendable {
        /// How long opening a connection may take.
        var connectTimeout: Duration
        /// How long the answer's head may take once the request is written.
        var firstByteTimeout: Duration
        /// The longest answer body read whole; a longer one is streamed.
        var bufferedBodyBytes: Int
    }

    private let eventLoop: any EventLoop
    private let maximumIdlePerAddress: Int
    private var idle: [UpstreamAddress: [any Channel]] = [:]
    private var isShutDown = false

    /// Creates an empty pool for `eventLoop`.
    init(eventLoop: any EventLoop, maximumIdlePerAddress: Int) {
        self.eventLoop = eventLoop
        self.maximumIdlePerAddress = maximumIdlePerAddress
    }

    /// Sends a request to `address` over an idle connection or a new one: its head, `body`, and the rest of
    /// the body as it arrives when `rest` is given. When `departure` says the client left before the answer
    /// began, the exchange fails (``UpstreamFailure/clientLeft``) and its connection is closed.
    /// - Returns: The answer: whole, or its start with the rest to stream (``UpstreamAnswer/rest``).
    func send(
        to address: UpstreamAddress, head: HTTPRequestHead, body: ByteBuffer?, rest: BodyStream?, limits: Limits, deadline: NIODeadline,
        departure: ClientDeparture? = nil
    ) -> EventLoopFuture<UpstreamAnswer> {
        self.eventLoop.preconditionInEventLoop()
        if let channel = self.takeIdle(address) {
            return self.exchange(on: channel, address: address, head: head, body: body, rest: rest, limits: limits, deadline: deadline, departure: departure)
        }
        let connected = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(TimeAmount(limits.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No outbound header validation: the target and every field came through the strict HTTP/1.1
                    // parser or are built from checked values (docs/security.md, "Header fields the edge writes").
                    let decoder = UpstreamResponseDecoder()
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(decoder), UpstreamResponseHandler(decoder: decoder))
                }
            }
            .connect(host: address.host, port: address.port)
        return connected.assumeIsolated().flatMap { channel in
            self.exchange(on: channel, address: address, head: head, body: body, rest: rest, limits: limits, deadline: deadline, departure: departure)
        }.nonisolated().flatMapErrorThrowing { error in
            if let failure = error as? UpstreamFailure { throw failure }
            throw UpstreamFailure.connectFailed("\(address): \(error)")
        }
    }

    /// Closes every idle connection now, and every busy one when its exchange ends.
    func shutDown() {
        self.isShutDown = true
        for channel in self.idle.values.joined() { channel.close(promise: nil) }
        self.idle = [:]
    }

    private func takeIdle(_ address: UpstreamAddress) -> (any Channel)? {
        while let channel = self.idle[address]?.popLast() {
            if channel.isActive { return channel }
        }
        return nil
    }

    private func exchange(
        on channel: any Channel, address: UpstreamAddress, head: HTTPRequestHead, body: ByteBuffer?, rest: BodyStream?, limits: Limits,
        deadline: NIODeadline, departure: ClientDeparture?
    ) -> EventLoopFuture<UpstreamAnswer> {
        let promise = self.eventLoop.makePromise(of: UpstreamAnswer.self)
        let handler: UpstreamResponseHandler
        do {
            handler = try channel.pipeline.syncOperations.handler(type: UpstreamResponseHandler.self)
            let begun = handler.begin(
                UpstreamExchange(bufferedBodyBytes: limits.bufferedBodyBytes, requestKeepsAlive: head.isKeepAlive),
                promise: promise, firstByteTimeout: limits.firstByteTimeout, deadline: deadline
            ) { reusable in
                self.release(channel, to: address, reusable: reusable)
            }
            guard let number = begun else { return promise.futureResult }
            if let departure {
                let bound = NIOLoopBound(handler, eventLoop: self.eventLoop)
                let loop = self.eventLoop
                let ticket = departure.whenGone {
                    if loop.inEventLoop { bound.value.clientLeft(number) } else { loop.execute { bound.value.clientLeft(number) } }
                }
                if let ticket { promise.futureResult.whenComplete { _ in departure.forget(ticket) } }
            }
        } catch {
            promise.fail(UpstreamFailure.closedBeforeAnswer)
            return promise.futureResult
        }
        handler.send(head, body: body, rest: rest)
        return promise.futureResult
    }

    /// A connection whose exchange ended: back to the idle list when it may carry another request and there
    /// is room, else closed.
    private func release(_ channel: any Channel, to address: UpstreamAddress, reusable: Bool) {
        guard reusable, channel.isActive else { return }
        if !self.isShutDown, self.idle[address, default: []].count < self.maximumIdlePerAddress {
            self.idle[address, default: []].append(channel)
        } else {
            channel.close(promise: nil)
        }
    }
}

/// One address of an HTTP upstream.
struct UpstreamAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    var host: String
    /// TCP port.
    var port: Int

    /// `host:port` (an IPv6 address in brackets, RFC 9110 §7.2): the `Host`
    /// the upstream is sent.
    var key: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
    /// `host:port`.
    var description: String { self.key }
}
