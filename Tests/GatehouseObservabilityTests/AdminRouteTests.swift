import GatehouseObservability
import Testing

@Suite("AdminRoute and AdminResponse")
struct AdminRouteTests {
    @Test("paths route to endpoints; the query string is ignored")
    func routing() {
        #expect(AdminRoute(method: "GET", target: "/metrics") == .metrics)
        #expect(AdminRoute(method: "HEAD", target: "/healthz") == .health)
        #expect(AdminRoute(method: "GET", target: "/readyz?verbose=1") == .readiness)
        #expect(AdminRoute(method: "GET", target: "/metrics/") == .notFound(path: "/metrics/"))
        #expect(AdminRoute(method: "POST", target: "/nope") == .notFound(path: "/nope"))
        #expect(AdminRoute(method: "POST", target: "/metrics") == .methodNotAllowed(method: "POST", path: "/metrics", allowed: ["GET", "HEAD"]))
    }

    @Test("a service's own endpoint takes its one method; others get 405 naming it")
    func serviceEndpoints() {
        let endpoints = [(path: "/_gatehouse/invalidate", method: "POST")]
        #expect(AdminRoute(method: "POST", target: "/_gatehouse/invalidate?x=1", endpoints: endpoints) == .endpoint(path: "/_gatehouse/invalidate"))
        #expect(
            AdminRoute(method: "GET", target: "/_gatehouse/invalidate", endpoints: endpoints)
                == .methodNotAllowed(method: "GET", path: "/_gatehouse/invalidate", allowed: ["POST"])
        )
        #expect(AdminRoute(method: "GET", target: "/metrics", endpoints: endpoints) == .metrics)
        #expect(AdminRoute(method: "POST", target: "/_gatehouse/invalidate") == .notFound(path: "/_gatehouse/invalidate"))
    }

    @Test("metrics use the Prometheus 0.0.4 text content type")
    func metrics() {
        let response = AdminResponse.metrics(Array("a 1\n".utf8))
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.bodyText == "a 1\n")
    }

    @Test("readiness is 200 when all pass and 503 naming the failures otherwise")
    func readiness() {
        let ready = AdminResponse.readiness([ReadinessCheckResult(name: "redis", outcome: .passed)])
        #expect(ready.status == 200)
        #expect(ready.bodyText == #"{"status":"ready","failing":[],"checks":[{"name":"redis","status":"pass"}]}"#)

        let notReady = AdminResponse.readiness([
            ReadinessCheckResult(name: "redis", outcome: .passed),
            ReadinessCheckResult(name: "keys", outcome: .failed),
            ReadinessCheckResult(name: "db", outcome: .timedOut(.seconds(1))),
            ReadinessCheckResult(name: "jwks", outcome: .threw("no \"route\"")),
        ])
        #expect(notReady.status == 503)
        #expect(notReady.header("Content-Type") == "application/json")
        #expect(notReady.bodyText == #"{"status":"not ready","failing":["keys","db","jwks"],"checks":["#
            + #"{"name":"redis","status":"pass"},{"name":"keys","status":"fail","reason":"returned false"},"#
            + #"{"name":"db","status":"fail","reason":"timed out after 1.0 seconds"},"#
            + #"{"name":"jwks","status":"fail","reason":"threw: no \"route\""}]}"#)
    }

    @Test("unknown paths and methods get RFC 9457 problems")
    func problems() {
        let notFound = AdminResponse.notFound(path: "/x\"y")
        #expect(notFound.status == 404)
        #expect(notFound.header("Content-Type") == "application/problem+json")
        #expect(notFound.bodyText == #"{"type":"about:blank","title":"Not Found","status":404,"#
            + #""detail":"No admin endpoint at '/x\"y'; the endpoints are /metrics, /healthz and /readyz."}"#)

        let notAllowed = AdminResponse.methodNotAllowed(method: "DELETE", path: "/readyz", allowed: ["GET", "HEAD"])
        #expect(notAllowed.status == 405)
        #expect(notAllowed.header("allow") == "GET, HEAD")
        #expect(notAllowed.bodyText.contains(#""status":405"#))
    }
}
