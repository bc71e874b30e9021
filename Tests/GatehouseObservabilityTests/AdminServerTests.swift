import GatehouseObservability
import Logging
import Metrics
import NIOCore
import Testing

/// `MetricsSystem.bootstrap` may run once per process: every test that needs the global backend uses this registry.
enum SharedMetrics {
    static let registry = MetricsBootstrap.bootstrap()
}

@Suite("AdminServer over real sockets")
struct AdminServerTests {
    private let logger = Logger(label: "admin-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `server` in a task group, hands its port to `body`, then cancels the server and waits for it to stop.
    private func withRunningServer(
        _ server: AdminServer,
        _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningPort()
            #expect(port > 0)
            try await body(port)
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    @Test("/metrics renders counters and timers created through swift-metrics")
    func metrics() async throws {
        let server = AdminServer(host: "127.0.0.1", port: 0, registry: SharedMetrics.registry, logger: self.logger)
        Counter(label: "gatehouse_test_requests_total", dimensions: [("route", "check")]).increment(by: 3)
        Timer(label: "gatehouse_test_latency_seconds").recordNanoseconds(50_000)
        try await self.withRunningServer(server) { port in
            let response = try await HTTPTestClient.send("GET", "/metrics", port: port)
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(response.body.contains(#"gatehouse_test_requests_total{route="check"} 3"#))
            #expect(response.body.contains(#"gatehouse_test_latency_seconds_bucket{le="0.0001"} 1"#))
        }
    }

    @Test("/healthz, HEAD, unknown paths and wrong methods")
    func healthAndErrors() async throws {
        let server = AdminServer(host: "127.0.0.1", port: 0, registry: SharedMetrics.registry, logger: self.logger)
        try await self.withRunningServer(server) { port in
            let health = try await HTTPTestClient.send("GET", "/healthz", port: port)
            #expect(health.status == 200)
            #expect(health.headers["content-type"] == "application/json")
            #expect(health.body == #"{"status":"ok"}"#)

            let head = try await HTTPTestClient.send("HEAD", "/healthz", port: port)
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "15")
            #expect(head.body.isEmpty)

            let missing = try await HTTPTestClient.send("GET", "/admin", port: port)
            #expect(missing.status == 404)
            #expect(missing.headers["content-type"] == "application/problem+json")
            #expect(missing.body.contains(#""title":"Not Found","status":404"#))
            #expect(missing.body.contains("/admin"))

            let wrongMethod = try await HTTPTestClient.send("POST", "/metrics", port: port)
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["allow"] == "GET, HEAD")
        }
    }

    @Test("/readyz is 200 when every check passes and 503 naming the failing check otherwise")
    func readiness() async throws {
        let passing = AdminServer(
            host: "127.0.0.1", port: 0, registry: SharedMetrics.registry,
            readinessChecks: [ReadinessCheck(name: "redis") { true }],
            logger: self.logger
        )
        try await self.withRunningServer(passing) { port in
            let response = try await HTTPTestClient.send("GET", "/readyz", port: port)
            #expect(response.status == 200)
            #expect(response.body.contains(#"{"name":"redis","status":"pass"}"#))
        }

        let failing = AdminServer(
            host: "127.0.0.1", port: 0, registry: SharedMetrics.registry,
            readinessChecks: [
                ReadinessCheck(name: "redis") { true },
                ReadinessCheck(name: "signing-keys") { false },
            ],
            logger: self.logger
        )
        try await self.withRunningServer(failing) { port in
            let response = try await HTTPTestClient.send("GET", "/readyz", port: port)
            #expect(response.status == 503)
            #expect(response.body.contains(#""failing":["signing-keys"]"#))
            #expect(response.body.contains(#"{"name":"signing-keys","status":"fail","reason":"returned false"}"#))
        }
    }

    @Test("after the server stops, its port is no longer available and it cannot run again")
    func lifecycle() async throws {
        let server = AdminServer(host: "127.0.0.1", port: 0, registry: SharedMetrics.registry, logger: self.logger)
        try await self.withRunningServer(server) { _ in }
        await #expect(throws: AdminServerError.self) { try await server.listeningPort() }
        await #expect(throws: AdminServerError.self) { try await server.run() }
    }

    @Test("a port that is taken makes run() fail with a bind error")
    func bindFailure() async throws {
        let first = AdminServer(host: "127.0.0.1", port: 0, registry: SharedMetrics.registry, logger: self.logger)
        try await self.withRunningServer(first) { port in
            let second = AdminServer(host: "127.0.0.1", port: port, registry: SharedMetrics.registry, logger: self.logger)
            do throws(AdminServerError) {
                try await second.run()
                Issue.record("expected a bind error")
            } catch {
                #expect(error.description.contains("cannot listen on 127.0.0.1:\(port)"))
            }
        }
    }
}
