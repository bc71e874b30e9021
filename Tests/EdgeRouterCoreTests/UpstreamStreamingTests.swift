@testable import EdgeRouterCore
import GatehouseTestSupport
import Logging
import NIOHTTP1
import Testing

/// Upstream answers and request bodies longer than their route's bound (`max_body_bytes`), through the
/// edge's real HTTP server on loopback in front of a real HTTP server (``TestUpstreamServer``'s `/stream`
/// and `/upload`): passed on as they arrive, held back while the reader does not read, answers never
/// cached, and connections reused only when read to the end.
@Suite(.timeLimit(.minutes(3)))
struct UpstreamStreamingTests {
    static let bound = 64 * 1024

    static func routes(port: Int) -> String {
        """
        routes:
          - path: /stream
            methods: [GET]
            auth: none
            upstream: {addresses: [http://127.0.0.1:\(port)], max_body_bytes: \(Self.bound)}
          - path: /status
            methods: [GET]
            auth: none
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /upload
            methods: [PUT, POST]
            auth: none
            upstream: {addresses: [http://127.0.0.1:\(port)], max_body_bytes: \(Self.bound)}
          - path: /cached/stream
            methods: [GET]
            auth: none
            cache: {ttl: 30s}
            upstream: {addresses: [http://127.0.0.1:\(port)], max_body_bytes: \(Self.bound), path_prefix_rewrite: {from: /cached, to: /}}
          - path: /untimed/stream
            methods: [GET]
            auth: none
            upstream:
              addresses: [http://127.0.0.1:\(port)]
              max_body_bytes: \(Self.bound)
              path_prefix_rewrite: {from: /untimed, to: /}
              timeouts: {connect: 1m, first_byte: 1m, total: 5m}
        """
    }

    /// Runs `body` with the edge's HTTP server (its port) in front of a fresh ``TestUpstreamServer``.
    static func withEdge(
        maxBodyBytes: Int = 16 << 20, requestTimeout: Duration = .seconds(30), _ body: @Sendable (Int, TestUpstreamServer) async throws -> Void
    ) async throws {
        let upstream = try await TestUpstreamServer.start()
        defer { upstream.stop() }
        try await EdgeGatewayTests.withGateway(over: RecordingUpstream(), routes: Self.routes(port: upstream.port)) { gateway in
            var http = EdgeConfiguration.HTTP()
            http.port = 0
            http.maxBodyBytes = maxBodyBytes
            http.requestTimeout = requestTimeout
            var logger = Logger(label: "test.edge.http")
            logger.logLevel = .critical
            let (ports, announce) = AsyncStream.makeStream(of: Int.self)
            let server = EdgeHTTPServer(handler: gateway.gateway, http: http, logger: logger) { announce.yield($0) }
            let running = Task { try await server.run() }
            defer { running.cancel() }
            var listening = ports.makeAsyncIterator()
            let port = try #require(await listening.next())
            try await body(port, upstream)
        }
    }

    @Test(arguments: [false, true])
    func aLongAnswerArrivesIntactAndItsStartBeforeTheUpstreamHasSentTheRest(chunked: Bool) async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            let length = 6 << 20
            // The upstream sends 256 KiB, then holds the rest until the client saw the start.
            client.send(.GET, "/stream?bytes=\(length)&hold=\(256 << 10)\(chunked ? "&chunked=1" : "")")
            let start = try await client.wait { $0.bodyBytes >= 128 << 10 }
            #expect(start.status == 200)
            #expect(start.bodyBytes >= 128 << 10, "the answer's start reached the client while the upstream held the rest")
            #expect(start.ended == 0 && upstream.streams.written <= 256 << 10)
            #expect(start.contentLength == (chunked ? nil : length), "the upstream's length is passed on when it declared one")
            upstream.streams.release()
            let whole = try await client.wait { $0.ended == 1 || $0.closed }
            #expect(whole.ended == 1 && whole.bodyBytes == length && whole.intact, "all \(length) bytes, in order")
            #expect(!whole.closed, "the client's connection stays open for another request")
        }
    }

    @Test func aStreamedAnswerReadToItsEndLeavesItsConnectionForTheNextRequestAndIsNotCached() async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            for round in 1...3 {
                client.send(.GET, "/cached/stream?bytes=\(1 << 20)")
                let seen = try await client.wait { $0.ended == round || $0.closed }
                #expect(seen.ended == round && seen.bodyBytes == 1 << 20 && seen.intact)
            }
            #expect(upstream.requests == 3, "a streamed answer is never served from the cache")
            #expect(upstream.connections == 1, "one kept-alive upstream connection for the three answers")
        }
    }

    @Test func aHeadGetsTheHeadAloneAndItsUnreadAnswersConnectionIsClosed() async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            client.send(.HEAD, "/stream?bytes=\(1 << 20)")
            let head = try await client.wait { $0.ended == 1 || $0.closed }
            #expect(head.status == 200 && head.contentLength == 1 << 20 && head.bodyBytes == 0 && head.ended == 1)
            #expect(try await Self.eventually { upstream.openConnections == 0 }, "the upstream connection with an unread answer was closed")
            client.send(.GET, "/stream?bytes=\(1 << 20)")
            let get = try await client.wait { $0.ended == 2 || $0.closed }
            #expect(get.ended == 2 && get.bodyBytes == 1 << 20 && get.intact)
            #expect(upstream.connections == 2, "the next request needed a new upstream connection")
        }
    }

    /// The edge's request timeout and the route's upstream timeouts are minutes here, so the upstream
    /// connection can only close within the wait because the client left.
    @Test func aClientThatDoesNotReadHoldsTheUpstreamBackAndOneThatLeavesClosesItsConnection() async throws {
        try await Self.withEdge(requestTimeout: .seconds(300)) { port, upstream in
            let client = try await TestStreamingClient.connect(port: port, reading: false)
            defer { client.close() }
            let length = 96 << 20
            client.send(.GET, "/untimed/stream?bytes=\(length)")
            client.readMore()
            // The answer began: its head reached the client and the upstream wrote body bytes (on a loaded
            // machine either can take seconds).
            let head = try await client.wait(seconds: 60) { ($0.status != nil && upstream.streams.written > 0) || $0.closed }
            #expect(head.status == 200 && !head.closed)
            // Then wait until the upstream could write no more for a second (at most 15 s: on a loaded machine
            // the last socket-buffer space can keep filling slowly).
            var written = -1
            let began = ContinuousClock.now
            while upstream.streams.written != written, ContinuousClock.now - began < .seconds(15) {
                written = upstream.streams.written
                try await Task.sleep(for: .seconds(1))
            }
            written = upstream.streams.written
            // Socket buffers on both connections (the kernel may grow them to several MiB) and the edge's
            // own bound; far from the whole answer.
            #expect(written > 0 && written < 40 << 20, "the upstream wrote \(written) of \(length) bytes while the client read nothing")
            #expect(client.current.ended == 0)
            client.close()
            #expect(
                try await Self.eventually { upstream.openConnections == 0 },
                "the client left: its upstream connection was closed (open: \(upstream.openConnections), written: \(upstream.streams.written))"
            )
        }
    }

    /// A client gone before the answer began: the answer that begins after it, with nobody to take it, is
    /// given up and its upstream connection closed (timeouts of minutes, as above).
    @Test func aClientThatLeavesBeforeTheAnswerBeganHasItsUpstreamConnectionClosedOnceTheAnswerBegins() async throws {
        try await Self.withEdge(requestTimeout: .seconds(300)) { port, upstream in
            let client = try await TestStreamingClient.connect(port: port, reading: false)
            defer { client.close() }
            client.send(.GET, "/untimed/stream?bytes=\(96 << 20)&after=1000")
            #expect(try await Self.eventually { upstream.requests == 1 }, "the request reached the upstream")
            client.close()
            #expect(
                try await Self.eventually { upstream.openConnections == 0 },
                "the answer that began after the client left was given up: its connection was closed (written: \(upstream.streams.written))"
            )
            #expect(upstream.streams.written < 40 << 20)
        }
    }

    @Test func aClientThatLeavesWhileItsUncachedRequestWaitsEndsTheUpstreamExchangeAtOnce() async throws {
        try await Self.withEdge(requestTimeout: .seconds(300)) { port, upstream in
            let client = try await TestStreamingClient.connect(port: port, reading: false)
            defer { client.close() }
            // The answer would begin after a minute; the route's timeouts are minutes long.
            client.send(.GET, "/untimed/stream?bytes=1024&after=60000")
            #expect(try await Self.eventually { upstream.requests == 1 && upstream.openConnections == 1 }, "the request reached the upstream")
            let left = ContinuousClock.now
            client.close()
            #expect(try await Self.eventually { upstream.openConnections == 0 }, "the upstream connection was closed when the client left")
            #expect(ContinuousClock.now - left < .seconds(10), "not at the answer's start a minute later, nor at a timeout")
        }
    }

    /// Not about streaming, but about what the edge's HTTP server adds to a forwarded answer.
    @Test func aForwardedAnswerKeepsTheOriginsDateAndHasOnlyOne() async throws {
        try await Self.withEdge { port, _ in
            let connection = try RawTCPConnection(port: port)
            try connection.send("GET /status?dated HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
            let answer = connection.receive(timeout: .seconds(10)) { $0.hasSuffix("dated\n") }
            let dates = answer.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("date:") }
            #expect(dates == ["Date: \(TestUpstreamServer.originDate)"], "one Date, the origin's: \(answer)")
        }
    }

    @Test(arguments: [false, true])
    func anUpstreamThatDiesMidBodyEndsTheClientsAnswerAbruptly(chunked: Bool) async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            client.send(.GET, "/stream?bytes=\(4 << 20)&die=\(1 << 20)\(chunked ? "&chunked=1" : "")")
            let seen = try await client.wait { $0.closed }
            #expect(seen.status == 200 && seen.closed && seen.ended == 0, "the client's connection closed without the answer's end")
            #expect(seen.bodyBytes < 4 << 20 && seen.intact)
        }
    }

    @Test(arguments: [false, true])
    func aLongUploadReachesTheUpstreamIntactAndItsStartBeforeTheClientFinished(chunked: Bool) async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            let length = 6 << 20
            for round in 1...2 {
                let before = upstream.streams.received
                client.sendHead(.PUT, "/upload", length: chunked ? nil : length)
                try await client.sendBody(from: 0, count: 1 << 20)
                #expect(
                    try await Self.eventually { upstream.streams.received - before >= 512 << 10 },
                    "the upstream received the body's start while the client still had 5 MiB to send"
                )
                try await client.sendBody(from: 1 << 20, count: length - (1 << 20))
                client.sendEnd()
                let seen = try await client.wait { $0.ended == round || $0.closed }
                #expect(seen.status == 200 && seen.ended == round)
                #expect(client.text == "received \(length) intact true", "all \(length) bytes reached the upstream, in order")
            }
            #expect(upstream.connections == 1, "the client's and the upstream's connections both carried the second upload")
        }
    }

    @Test func anUpstreamThatDoesNotReadHoldsTheClientBack() async throws {
        try await Self.withEdge(maxBodyBytes: 64 << 20) { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            let length = 64 << 20
            client.sendHead(.PUT, "/upload?stall=1", length: length)
            let sending = Task { try? await client.sendBody(from: 0, count: length) }
            defer { sending.cancel() }
            // Wait until the client could send no more for a second.
            var sent = -1
            while client.sent != sent {
                sent = client.sent
                try await Task.sleep(for: .seconds(1))
            }
            // Socket buffers on both connections and the edge's own bound; far from the whole body.
            #expect(sent < 32 << 20, "the client sent \(sent) of \(length) bytes while the upstream read nothing")
        }
    }

    @Test func aClientThatLeavesMidUploadAbortsTheUpstreamRequest() async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            client.sendHead(.PUT, "/upload", length: 6 << 20)
            try await client.sendBody(from: 0, count: 2 << 20)
            #expect(try await Self.eventually { upstream.streams.received >= 1 << 20 })
            client.close()
            #expect(try await Self.eventually { upstream.openConnections == 0 }, "the upstream request was aborted: its connection closed")
            #expect(upstream.requests == 0, "the upstream never answered a request whose body broke off")
        }
    }

    @Test func anUploadOverTheBodyLimitIsAnswered413AndItsUpstreamRequestAborted() async throws {
        try await Self.withEdge(maxBodyBytes: 2 << 20) { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            // Chunked: the limit is found only as the body arrives, after the upstream request began.
            client.sendHead(.PUT, "/upload", length: nil)
            try? await client.sendBody(from: 0, count: 3 << 20)
            client.sendEnd()
            let seen = try await client.wait { $0.status != nil && ($0.ended == 1 || $0.closed) }
            #expect(seen.status == 413)
            // The upstream may not have read a byte of the body before the abort (a loaded machine); its accepting
            // the edge's connection, whenever it gets to it, shows the upstream request had begun.
            #expect(try await Self.eventually { upstream.connections >= 1 }, "the upstream request had begun")
            #expect(try await Self.eventually { upstream.openConnections == 0 }, "the upstream request was aborted: its connection closed")
            #expect(upstream.requests == 0, "the upstream never answered the aborted request")
            #expect(try await client.wait { $0.closed }.closed, "the client's connection closes after the 413")
        }
    }

    @Test func anUpstreamThatDiesMidUploadIsA502() async throws {
        try await Self.withEdge { port, upstream in
            let client = try await TestStreamingClient.connect(port: port)
            defer { client.close() }
            client.sendHead(.POST, "/upload?die=\(1 << 20)", length: 4 << 20)
            try? await client.sendBody(from: 0, count: 4 << 20)
            client.sendEnd()
            let seen = try await client.wait { $0.status != nil && ($0.ended == 1 || $0.closed) }
            #expect(seen.status == 502)
            #expect(upstream.connections == 1, "a POST whose body was streamed is never sent again")
        }
    }

    /// Whether `condition` came to hold within 10 s.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}
