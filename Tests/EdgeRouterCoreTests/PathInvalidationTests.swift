@testable import EdgeRouterCore
import Foundation
import GatehouseConfig
import GatehouseEvents
import GatehouseObservability
import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

/// Coherence of HTTP upstream routes across edges: the route file's `upstream.invalidates`, the path
/// invalidation message, the admin endpoint (in process, without sockets) and the publisher's retries
/// against a real redis-server that goes away and comes back.
@Suite(.timeLimit(.minutes(2)))
struct PathInvalidationTests {
    static let logger = {
        var logger = Logger(label: "test.path-invalidations")
        logger.logLevel = .critical
        return logger
    }()

    static func routes(invalidates: String) -> String {
        """
        routes:
          - path: /articles/{id}
            methods: [PUT, DELETE]
            upstream: {addresses: [http://127.0.0.1:8000], invalidates: \(invalidates)}
        """
    }

    // MARK: The route file

    @Test func aWriteRouteNamesThePathsItDropsWithItsOwnParameters() throws {
        let table = try RouteTable(yaml: Self.routes(invalidates: #"["/articles/{id}", /articles, "/articles/{id}/comments", /summary]"#), source: "routes.yaml")
        guard case .route(let route, let parameters) = table.match(method: "PUT", path: "/articles/7") else {
            Issue.record("no route")
            return
        }
        #expect(route.invalidates?.map { $0.path(with: parameters) } == ["/articles/7", "/articles", "/articles/7/comments", "/summary"])
    }

    @Test func aTemplateWithAParameterTheRouteDoesNotHaveOrAMalformedEntryIsRefusedNamingTheField() {
        let refused: [(String, String)] = [
            (#"["/articles/{collection}"]"#, "routes[0].upstream.invalidates[0]: {collection} is not a parameter of the route's path /articles/{id}"),
            (#"[/articles, "articles/{id}"]"#, "routes[0].upstream.invalidates[1]: expected a path such as"),
            (#"["/articles/{name}"]"#, "routes[0].upstream.invalidates[0]: {name} is not a parameter"),
            ("[/articles/]", "routes[0].upstream.invalidates[0]: expected a path such as"),
            ("[]", "routes[0].upstream.invalidates: expected at least one path"),
            ("/articles", "routes[0].upstream.invalidates: expected a list"),
        ]
        for (invalidates, problem) in refused {
            do {
                _ = try RouteTable(yaml: Self.routes(invalidates: invalidates), source: "routes.yaml")
                Issue.record("accepted \(invalidates)")
            } catch {
                #expect(error.description.contains(problem), "\(invalidates): \(error.description)")
            }
        }
        let readOnly = """
            routes:
              - path: /articles
                methods: [GET]
                upstream: {addresses: [http://127.0.0.1:8000], invalidates: [/articles]}
            """
        #expect(throws: RouteFileError.self) { try RouteTable(yaml: readOnly, source: "routes.yaml") }
    }

    @Test func theChannelDefaultsBesideTheOthersAndMustDifferFromTheDataServicesChannel() throws {
        var defaults = try ConfigDocument(yaml: "rpc: {secret: path-invalidation-test-secret}", source: "edge.yaml")
        #expect(try EdgeConfiguration(reading: &defaults).pathInvalidationsChannel == "gatehouse:invalidations:paths")
        var same = try ConfigDocument(
            yaml: "rpc: {secret: path-invalidation-test-secret}\nevents: {path_invalidations_channel: gatehouse:invalidations}", source: "edge.yaml"
        )
        #expect(throws: ConfigError.self) { try EdgeConfiguration(reading: &same) }
        do {
            _ = try EdgeConfiguration(reading: &same)
        } catch {
            #expect("\(error)".contains("events.path_invalidations_channel"), "\(error)")
        }
    }

    // MARK: The message

    @Test func aMessageIsReadWithItsPathsNormalizedAndWrittenBackInTheDocumentedForm() throws {
        let message = try PathInvalidationMessage(jsonText: #"{"v":1,"paths":["/articles//7/","/articles"],"origin":"edge-a"}"#)
        #expect(message == PathInvalidationMessage(paths: ["/articles/7", "/articles"], origin: "edge-a"))
        #expect(message.jsonText == #"{"v":1,"paths":["/articles/7","/articles"],"origin":"edge-a"}"#)
        #expect(try PathInvalidationMessage(jsonText: message.jsonText) == message)
        // v and origin may be left out: the admin endpoint's body, or redis-cli PUBLISH by hand.
        #expect(try PathInvalidationMessage(jsonText: #"{"paths":["/summary"]}"#) == PathInvalidationMessage(paths: ["/summary"], origin: nil))
        #expect(PathInvalidationMessage(paths: ["/a\"b"], origin: nil).jsonText == #"{"v":1,"paths":["/a\"b"]}"#)
    }

    @Test func anUnreadableMessageIsRefusedSayingWhatIsWrong() {
        let tooMany = "[" + Array(repeating: #""/a""#, count: PathInvalidationMessage.maximumPaths + 1).joined(separator: ",") + "]"
        let refused: [(String, String)] = [
            ("not json", "the body is not JSON"),
            (#"["/a"]"#, "expected a JSON object"),
            (#"{"path":["/a"]}"#, #"unknown field "path""#),
            (#"{"v":2,"paths":["/a"]}"#, "v must be 1"),
            (#"{"paths":"/a"}"#, "paths must be a list"),
            (#"{"paths":[]}"#, "paths must hold 1 to 1000 paths, not 0"),
            (#"{"paths":\#(tooMany)}"#, "not 1001"),
            (#"{"paths":["/a","b"]}"#, "paths[1] must be a path starting with /"),
            (#"{"paths":["/a?x=1"]}"#, "paths[0]"),
            (#"{"paths":["/a b"]}"#, "paths[0]"),
            (#"{"paths":[7]}"#, "paths[0]"),
            (#"{"paths":["/a"],"origin":7}"#, "origin must be a string"),
        ]
        for (text, reason) in refused {
            #expect(throws: PathInvalidationMessage.Unreadable.self, "\(text)") { try PathInvalidationMessage(jsonText: text) }
            do {
                _ = try PathInvalidationMessage(jsonText: text)
            } catch {
                #expect(error.reason.contains(reason), "\(text): \(error.reason)")
            }
        }
    }

    @Test func anApplierDropsThePathsOfOthersSkipsItsOwnAndCountsUnreadableMessages() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let response = CachedResponse(status: 200, body: Array("{}".utf8), etag: nil)
        for path in ["/articles/7", "/articles", "/articles/8"] {
            cache.store(response, for: "GET \(path)", tags: [.path(path)], freshness: freshness, ticket: cache.ticket())
        }
        let inFlight = cache.ticket()
        let applier = PathInvalidationApplier(cache: cache, origin: "edge-b")
        #expect(applier.apply(message: #"{"v":1,"paths":["/articles/7"],"origin":"edge-b"}"#) == .own)
        #expect(cache.lookup("GET /articles/7") != .miss, "its own message: the edge dropped the path before publishing")
        #expect(applier.apply(message: #"{"v":1,"paths":["/articles/7","/articles"],"origin":"edge-a"}"#) == .applied(dropped: 2))
        #expect(cache.lookup("GET /articles/7") == .miss && cache.lookup("GET /articles") == .miss)
        #expect(cache.lookup("GET /articles/8") != .miss)
        // A fill that started before the message does not store its possibly older answer.
        #expect(cache.store(response, for: "GET /articles/7", tags: [.path("/articles/7")], freshness: freshness, ticket: inFlight) == .invalidatedMeanwhile)
        guard case .unreadable(let error) = applier.apply(message: #"{"paths":["/articles/8"],"v":"one"}"#) else {
            Issue.record("read")
            return
        }
        #expect(error.reason.contains("v must be 1"))
        #expect(cache.lookup("GET /articles/8") != .miss, "an unreadable message changes nothing")
    }

    // MARK: The admin endpoint

    @Test func theAdminEndpointNeedsATokenWithTheScopeAJSONBodyAndDropsThePaths() async throws {
        try await EdgeGatewayTests.withGateway { gateway in
            try await Self.checkAdminEndpoint(verifier: gateway.gateway.verifier, authEvents: gateway.gateway.authEvents, issuer: gateway.issuer)
        }
    }

    static func checkAdminEndpoint(verifier: AccessTokenVerifier, authEvents: AuthEventApplier, issuer: TestTokenIssuer) async throws {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let response = CachedResponse(status: 200, body: Array("{}".utf8), etag: nil)
        cache.store(response, for: "GET /articles/7", tags: [.path("/articles/7")], freshness: .init(ttl: .seconds(60)), ticket: cache.ticket())
        // A client that is never run: what the endpoint publishes only waits in the queue.
        let redis = RedisClient(configuration: RedisConfiguration(port: try freeLoopbackPort()), logger: Self.logger)
        let publisher = PathInvalidationPublisher(redis: redis, channel: PathInvalidationMessage.defaultChannel, origin: "edge-a", logger: Self.logger)
        let endpoint = PathInvalidationEndpoint(verifier: verifier, authEvents: authEvents, cache: cache, publisher: publisher)
        let allowed = try await issuer.token(subject: "catalog-api", scopes: ["gatehouse:invalidate"])
        let readOnly = try await issuer.token(subject: "alice", scopes: ["read", "write"])
        func send(_ token: String?, contentType: String? = "application/json", _ body: String) async -> AdminResponse {
            var headers: [(name: String, value: String)] = []
            if let token { headers.append(("Authorization", "Bearer \(token)")) }
            if let contentType { headers.append(("Content-Type", contentType)) }
            return await endpoint.respond(to: AdminEndpoint.Request(headers: headers, body: Array(body.utf8)))
        }
        let body = #"{"paths":["/articles/7","/articles"]}"#

        let missing = await send(nil, body)
        #expect(missing.status == 401 && missing.header("WWW-Authenticate") == #"Bearer realm="gatehouse""#)
        let invalid = await send("a.b.c", body)
        #expect(invalid.status == 401 && invalid.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)
        let forbidden = await send(readOnly, body)
        #expect(forbidden.status == 403 && forbidden.header("WWW-Authenticate")?.contains(#"scope="gatehouse:invalidate""#) == true)
        let unsupported = await send(allowed, contentType: "text/plain", body)
        #expect(unsupported.status == 415)
        #expect(await send(allowed, contentType: nil, body).status == 415)
        let malformed = await send(allowed, #"{"paths":["articles"]}"#)
        #expect(malformed.status == 400 && malformed.bodyText.contains("paths[0] must be a path starting with /"), "\(malformed.bodyText)")
        for refusal in [missing, invalid, forbidden, unsupported, malformed] {
            #expect(refusal.header("Content-Type") == "application/problem+json")
        }
        #expect(cache.lookup("GET /articles/7") != .miss, "refused requests drop nothing")

        let done = await send(allowed, contentType: "application/json; charset=utf-8", body)
        #expect(done.status == 200)
        #expect(done.bodyText == #"{"paths":["/articles/7","/articles"],"dropped":1}"#)
        #expect(cache.lookup("GET /articles/7") == .miss)
    }

    // MARK: Publishing through Redis

    @Test func pathsReachAnotherEdgeAndThoseQueuedWhileRedisIsDownArePublishedWhenItIsBack() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let configuration = RedisConfiguration(
            port: server.port, connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(300),
            reconnectInitialBackoff: .milliseconds(20), reconnectMaximumBackoff: .milliseconds(200)
        )
        let redis = RedisClient(configuration: configuration, logger: Self.logger)
        let channel = "test:invalidations:paths"
        let publisher = PathInvalidationPublisher(redis: redis, channel: channel, origin: "edge-a", logger: Self.logger)
        // Another edge's cache and its subscription to the channel.
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let response = CachedResponse(status: 200, body: Array("{}".utf8), etag: nil)
        let other = PathInvalidationApplier(cache: cache, origin: "edge-b")
        let outcomes = Mutex<[PathInvalidationApplier.Outcome]>([])
        let subscription = EventSubscription(
            redis: configuration,
            channels: [
                EventSubscription.Channel(channel) { text in
                    let outcome = other.apply(message: text)
                    outcomes.withLock { $0.append(outcome) }
                }
            ],
            logger: Self.logger
        ) { _ in }
        func waitFor(_ count: Int) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(10)
            while outcomes.withLock({ $0.count }) < count {
                guard ContinuousClock.now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(10))
            }
            return true
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await redis.run() }
            group.addTask { await publisher.run() }
            group.addTask { try await subscription.run() }
            defer { group.cancelAll() }
            // Subscribed once a message sent now arrives.
            let subscribed = ContinuousClock.now + .seconds(10)
            while (try? await redis.publish(channel: channel, message: #"{"paths":["/ready"]}"#)) != 1 {
                guard ContinuousClock.now < subscribed else { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await waitFor(1))

            cache.store(response, for: "GET /articles/7", tags: [.path("/articles/7")], freshness: freshness, ticket: cache.ticket())
            publisher.publish(["/articles/7", "/articles"])
            #expect(try await waitFor(2))
            #expect(outcomes.withLock { $0.last } == .applied(dropped: 1))
            #expect(cache.lookup("GET /articles/7") == .miss)

            // Redis goes away: publishing returns at once, the paths wait and go out once it is back (the
            // restarted server counts the PUBLISH calls it took). Subscribers then may not be back yet: an edge
            // drops its whole cache when its lost subscription comes back.
            server.halt()
            let started = ContinuousClock.now
            publisher.publish(["/articles/8"])
            publisher.publish(["/articles", "/articles/9"])
            #expect(ContinuousClock.now - started < .seconds(1), "publishing never waits for Redis")
            try await Task.sleep(for: .seconds(1))
            try await server.restart()
            let delivered = ContinuousClock.now + .seconds(10)
            var stats = ""
            while !stats.contains("cmdstat_publish:calls=") {
                guard ContinuousClock.now < delivered else { break }
                try await Task.sleep(for: .milliseconds(50))
                if case .bulkString(let text)? = try? await redis.send(["INFO", "commandstats"]) { stats = String(buffer: text) }
            }
            #expect(stats.contains("cmdstat_publish:calls=1,"), "the three paths queued during the outage went out in one message: \(stats)")
        }
    }
}
