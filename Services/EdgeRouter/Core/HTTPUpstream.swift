import NIOCore
import NIOHTTP1
import Synchronization

/// An HTTP upstream: the addresses of one route's API, reached over kept-alive connections pooled on each
/// event loop (``UpstreamConnectionPool``), with round robin over the healthy addresses and passive health
/// (``UpstreamAddressSelector``).
///
/// A request goes to one address; a connection failure, a timeout, or a `502`/`503`/`504` answer counts
/// against that address. An idempotent request (RFC 9110 §9.2.2: `GET`, `HEAD`, `OPTIONS`, `PUT`,
/// `DELETE`) that failed before any answer began (the connection could not be opened, or closed before the
/// answer: typically a kept-alive connection the upstream had just closed) is sent once more, to another
/// address when there is one; a non-idempotent one never is, nor one whose body is streamed. The total
/// timeout bounds both attempts.
final class HTTPUpstream: Sendable {
    /// The time limits of one forwarded request.
    struct Timeouts: Sendable, Hashable {
        /// Opening a connection.
        var connect: Duration
        /// From the request written to the answer's head.
        var firstByte: Duration
        /// The whole exchange, retry included.
        var total: Duration
    }

    /// Methods a failed attempt may repeat.
    static let idempotentMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .PUT, .DELETE]

    /// The addresses, in the route file's order.
    let addresses: [UpstreamAddress]
    /// The `Host` field of each address (``UpstreamAddress/key``), made once rather than per request.
    private let hostFields: [String]
    private let timeouts: Timeouts
    private let bufferedBodyBytes: Int
    private let selector: Mutex<UpstreamAddressSelector>
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamConnectionPool>]

    /// Creates an upstream.
    /// - Parameters:
    ///   - addresses: At least one address.
    ///   - timeouts: The time limits of a request.
    ///   - maximumBodyBytes: The longest answer body read whole; a longer one is streamed (``UpstreamAnswer/rest``).
    ///   - ejectAfter: Consecutive failures that eject an address.
    ///   - ejection: How long an ejected address gets no requests.
    ///   - eventLoops: The event loops requests are forwarded from; each gets its own pool.
    ///   - maximumIdlePerAddress: Idle connections each loop keeps per address.
    init(
        addresses: [UpstreamAddress], timeouts: Timeouts, maximumBodyBytes: Int, ejectAfter: Int, ejection: Duration,
        eventLoops: [any EventLoop], maximumIdlePerAddress: Int = 64
    ) {
        self.addresses = addresses
        self.hostFields = addresses.map(\.key)
        self.timeouts = timeouts
        self.bufferedBodyBytes = maximumBodyBytes
        self.selector = Mutex(UpstreamAddressSelector(count: addresses.count, ejectAfter: ejectAfter, ejection: ejection))
        var pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamConnectionPool>] = [:]
        for eventLoop in eventLoops {
            pools[ObjectIdentifier(eventLoop)] = NIOLoopBoundBox.makeBoxSendingValue(
                UpstreamConnectionPool(eventLoop: eventLoop, maximumIdlePerAddress: maximumIdlePerAddress), eventLoop: eventLoop
            )
        }
        self.pools = pools
    }

    /// Forwards a request and returns the upstream's answer: whole when its body is at most
    /// `maximumBodyBytes`, else its head and the body's start with the rest to stream (``UpstreamAnswer/rest``,
    /// whose failure is no longer the upstream address's to count: the answer had begun).
    /// - Parameters:
    ///   - method: The method.
    ///   - target: The request target for the upstream (path and query, after the route's rewrite).
    ///   - fields: The header fields to send (``ForwardedHeaders/towardUpstream(_:origin:identity:identityNames:)``);
    ///     `Host` is added for the address chosen.
    ///   - body: The body, if any, or its start when `rest` follows.
    ///   - rest: The rest of a request body longer than the bound, written as it arrives; such a request is
    ///     never sent twice.
    ///   - eventLoop: The loop of the client's connection; must be one of those the upstream was made with.
    ///   - departure: Ends the exchange when the client leaves before the answer began (only its client
    ///     waits for it); `nil` when others may wait for the answer too.
    /// - Throws: ``UpstreamFailure`` when no answer came.
    func forward(
        method: HTTPMethod, target: String, fields: [(name: String, value: String)], body: ByteBuffer?, rest: BodyStream? = nil,
        on eventLoop: any EventLoop, departure: ClientDeparture? = nil
    ) async throws(UpstreamFailure) -> UpstreamAnswer {
        guard let pool = self.pools[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("HTTPUpstream.forward called on an event loop it was not made with")
        }
        let deadline = NIODeadline.now() + TimeAmount(self.timeouts.total)
        let limits = UpstreamConnectionPool.Limits(
            connectTimeout: self.timeouts.connect, firstByteTimeout: self.timeouts.firstByte, bufferedBodyBytes: self.bufferedBodyBytes
        )
        var previous: Int?
        while true {
            let index = self.selector.withLock { $0.next(now: .now, excluding: previous) }
            let address = self.addresses[index]
            // Made at once, without `HTTPHeaders.add`'s ASCII check of every name (docs/security.md §6.17).
            var headers: [(String, String)] = []
            headers.reserveCapacity(fields.count + 1)
            headers.append(("Host", self.hostFields[index]))
            for field in fields { headers.append((field.name, field.value)) }
            let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: HTTPHeaders(headers))
            do {
                // On the client connection's loop (the usual case) the pool is used at once, without a task
                // scheduled on the loop per request.
                let sent =
                    eventLoop.inEventLoop
                    ? pool.value.send(to: address, head: head, body: body, rest: rest, limits: limits, deadline: deadline, departure: departure)
                    : eventLoop.flatSubmit { pool.value.send(to: address, head: head, body: body, rest: rest, limits: limits, deadline: deadline, departure: departure) }
                let answer = try await sent.get()
                let status = answer.status
                self.selector.withLock { selector in
                    if status == 502 || status == 503 || status == 504 { selector.failed(index, now: .now) } else { selector.succeeded(index) }
                }
                return answer
            } catch {
                let failure = error as? UpstreamFailure ?? .closedDuringAnswer
                if failure.countsAgainstAddress { self.selector.withLock { _ = $0.failed(index, now: .now) } }
                guard previous == nil, rest == nil, failure.allowsRetry, Self.idempotentMethods.contains(method), NIODeadline.now() < deadline else {
                    throw failure
                }
                previous = index
            }
        }
    }

    /// Records an active health probe of the address at `index` (``UpstreamHealthProbe``) and its
    /// verdict in `gatehouse_edge_upstream_healthy`.
    func recordProbe(_ index: Int, passed: Bool, check: UpstreamHealthCheck) {
        let healthy = self.selector.withLock { selector in
            selector.probed(index, passed: passed, healthyAfter: check.healthyAfter, unhealthyAfter: check.unhealthyAfter)
            return selector.isProbedHealthy(index)
        }
        EdgeMetrics.recordUpstreamHealth(address: self.addresses[index].key, healthy: healthy)
    }

    /// Whether the active health check marks the address at `index` healthy.
    func isProbedHealthy(_ index: Int) -> Bool {
        self.selector.withLock { $0.isProbedHealthy(index) }
    }

    /// Closes the idle connections of every loop now, and each busy one once its exchange ends.
    func shutDown() {
        for pool in self.pools.values {
            pool.eventLoop.execute { pool.value.shutDown() }
        }
    }
}
