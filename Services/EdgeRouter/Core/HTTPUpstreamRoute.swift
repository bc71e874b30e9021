import Foundation
import GatehouseAuthAPI
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP API as the upstream of one route configuration (its `upstream:`): forwards the route's requests
/// over ``HTTPUpstream`` with the header fields a gateway must rewrite (``ForwardedHeaders``) and the
/// verified caller's identity in the route's identity fields.
///
/// A read is forwarded as `GET` (a `HEAD` is answered from the `GET` answer) without the client's
/// conditional and range fields, since the gateway may share the answer with other callers and evaluates
/// `If-Match`/`If-None-Match` itself (a stale entry is revalidated with the gateway's own conditional
/// fields instead, from its validators); it is tagged with its path, and the upstream's `Cache-Control`,
/// `Expires` and `Vary` decide whether and how long the cache keeps it (``UpstreamCachePolicy``). A write
/// (any method but `GET`, `HEAD` and `OPTIONS`) names the route's `upstream.invalidates`, else its path and
/// the path above it (`PUT /articles/7`: `/articles/7` and the `/articles` listing), dropped on a `2xx`
/// answer on every edge. No answer is a problem: `504` when a timeout ran out, else `502`. An answer longer
/// than the route's `max_body_bytes` carries the rest of its body as a stream (``EdgeResponse/bodyStream``),
/// which the HTTP server writes as it arrives; a write's body longer than it arrives the same way
/// (``EdgeRequest/bodyStream``) and is forwarded as it comes.
///
/// A request is forwarded from the event loop it runs on, the client connection's (the HTTP server runs
/// the gateway there), so its bytes do not cross threads; off the event loops (a test calling the gateway
/// directly) it takes the next loop in turn.
final class HTTPUpstreamRoute: EdgeUpstream {
    let configuration: HTTPUpstreamConfiguration
    private let upstream: HTTPUpstream
    private let eventLoops: [any EventLoop]
    private let loopIDs: Set<ObjectIdentifier>
    private let nextLoop = Atomic<Int>(0)
    private let learnedVary = Mutex<[String]?>(nil)
    private let identityNames: [String]
    private let logger: Logger

    /// Request fields not forwarded with a read: the gateway evaluates the preconditions itself, and the
    /// answer may be shared.
    private static let fieldsNotForwardedWithReads: Set<String> = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range", "range"]

    /// Creates the upstream of one route configuration.
    /// - Parameters:
    ///   - configuration: The route's `upstream:`.
    ///   - eventLoops: The loops requests are forwarded from (each gets its own connection pool).
    ///   - logger: Receives the failures whose details do not go to the client.
    init(configuration: HTTPUpstreamConfiguration, eventLoops: [any EventLoop], logger: Logger) {
        self.configuration = configuration
        self.eventLoops = eventLoops
        self.loopIDs = Set(eventLoops.map { ObjectIdentifier($0) })
        self.upstream = HTTPUpstream(
            addresses: configuration.addresses, timeouts: configuration.timeouts, maximumBodyBytes: configuration.maximumBodyBytes,
            ejectAfter: HTTPUpstreamConfiguration.ejectAfter, ejection: HTTPUpstreamConfiguration.ejection, eventLoops: eventLoops
        )
        let identity = configuration.identityHeaders
        self.identityNames = [identity.subject, identity.roles, identity.scopes]
        self.logger = logger
    }

    /// Probes the addresses as the route's `health_check:` says until the task is cancelled; returns at
    /// once when it has none.
    func checkHealth() async {
        guard let check = self.configuration.healthCheck else { return }
        await UpstreamHealthProbe(check: check, upstream: self.upstream, eventLoop: self.eventLoops[0]).run()
    }

    /// Closes its idle connections now and each busy one once its exchange ends.
    func shutDown() {
        self.upstream.shutDown()
    }

    func read(_ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters) -> UpstreamRead {
        let policy = route.caching.map { UpstreamCachePolicy(route: $0.freshness, sharesAuthorizedAnswers: self.configuration.sharesAuthorizedAnswers) }
        let requestHeaders = request.headers
        let read = NegotiatedRead(
            // Tags matter only to a cache (a route without one forwards every read as it comes).
            tags: route.caching == nil ? [] : [.path(Self.normalized(request.path))], vary: self.learnedVary.withLock { $0 },
            // A cached read's fetch may serve every caller waiting for it, and fills the cache: it goes on when its
            // client leaves. An uncached one has only its client.
            fetch: { conditions in
                await self.forward(request, method: .GET, caller: caller, conditions: conditions, departure: route.caching == nil ? request.departure : nil)
            },
            decide: { answer in
                guard let policy else { return .doNotStore("the route does not cache") }
                let decision = policy.decide(
                    method: "GET", requestHeaders: requestHeaders, status: answer.status, responseHeaders: answer.headers, now: Int64(Date().timeIntervalSince1970)
                )
                if case .store(_, let vary) = decision { self.learnedVary.withLock { $0 = vary } }
                return decision
            }
        )
        return .negotiated(read)
    }

    func write(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters, preconditions: RequestPreconditions
    ) async -> UpstreamWrite {
        let response = await self.forward(request, method: HTTPMethod(rawValue: request.method), caller: caller, departure: request.departure)
        guard request.method != "OPTIONS" else { return UpstreamWrite(response: response, invalidates: []) }
        if let templates = route.invalidates {
            return UpstreamWrite(response: response, invalidates: templates.map { .path($0.path(with: parameters)) })
        }
        let path = Self.normalized(request.path)
        var tags: [CacheTag] = [.path(path)]
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex { tags.append(.path(String(path[..<slash]))) }
        return UpstreamWrite(response: response, invalidates: tags)
    }

    /// The path with its empty segments dropped, as its cache tag names it.
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    private func forward(
        _ request: EdgeRequest, method: HTTPMethod, caller: EdgeCaller, conditions: [(name: String, value: String)] = [],
        departure: ClientDeparture?
    ) async -> EdgeResponse {
        let isRead = method == .GET
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(request.headers.count)
        for (name, value) in request.headers where !(isRead && Self.fieldsNotForwardedWithReads.contains(name)) {
            fields.append((name, value))
        }
        var identity: [(name: String, value: String)] = []
        if let claims = caller.claims {
            let names = self.configuration.identityHeaders
            identity = [(names.subject, claims.sub.value), (names.roles, claims.roles.joined(separator: ",")), (names.scopes, claims.scope)]
        }
        let origin = ForwardedHeaders.Origin(clientAddress: request.clientIP, scheme: request.scheme, host: request.header("host"), requestID: request.requestID)
        var outgoing = ForwardedHeaders.towardUpstream(fields, origin: origin, identity: identity, identityNames: self.identityNames)
        outgoing += conditions
        let rest = isRead ? nil : request.bodyStream
        if let rest {
            // A streamed body: the client's length when it declared one, else chunked.
            outgoing.append(rest.declaredLength.map { ("Content-Length", "\($0)") } ?? ("Transfer-Encoding", "chunked"))
        } else if !isRead {
            outgoing.append(("Content-Length", "\(request.body.count)"))
        }
        let body = isRead || request.body.isEmpty ? nil : ByteBuffer(bytes: request.body)
        let target = self.configuration.target(path: request.path, query: request.query)
        do {
            let answer = try await self.upstream.forward(
                method: method, target: target, fields: outgoing, body: body, rest: rest, on: self.eventLoop(), departure: departure
            )
            var response = EdgeResponse(status: answer.status, headers: ForwardedHeaders.towardClient(answer.headers), body: Array(answer.body.readableBytesView))
            response.bodyStream = answer.rest
            return response
        } catch .clientLeft {
            // Never sent: counted and logged as nginx does, 499.
            return .problem(499, "Client Closed Request", "the client closed its connection before the upstream answered")
        } catch {
            self.logger.warning("upstream gave no answer", metadata: ["upstream.failure": "\(error)", "request.id": "\(request.requestID)"])
            if case .timedOut = error {
                return .problem(504, "Gateway Timeout", "the upstream did not answer within the route's timeouts")
            }
            return .problem(502, "Bad Gateway", "the upstream could not be reached or gave no valid answer")
        }
    }

    /// The client connection's loop when the request runs on one of ours, else the next in turn.
    private func eventLoop() -> any EventLoop {
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, self.loopIDs.contains(ObjectIdentifier(current)) {
            return current
        }
        return self.eventLoops[self.nextLoop.add(1, ordering: .relaxed).newValue % self.eventLoops.count]
    }
}
