@testable import EdgeRouterCore
import Testing

/// Browsers on other origins: the route file's `cors:` and what the edge answers them (the Fetch standard's
/// CORS protocol).
struct CORSPolicyTests {
    static func route(_ cors: String, methods: String = "[GET, PUT]") throws -> EdgeRoute {
        let table = try RouteTable(yaml: "routes:\n  - path: /v1/{collection}/{id}\n    methods: \(methods)\n    cors: \(cors)\n", source: "routes.yaml")
        return try #require(table.routes.first)
    }

    static func refusal(_ cors: String, methods: String = "[GET, PUT]") -> String {
        do {
            _ = try Self.route(cors, methods: methods)
            return "accepted"
        } catch let error as RouteFileError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func aPreflightFromAnAllowedOriginIsAnsweredWithWhatItMayDo() throws {
        let cors = try #require(try Self.route("{origins: [https://app.example.com], max_age: 1h}").cors)
        let answer = cors.preflight(origin: "https://app.example.com", method: "PUT", headers: "Content-Type, authorization")
        #expect(answer.status == 204)
        #expect(answer.header("access-control-allow-origin") == "https://app.example.com")
        #expect(answer.header("access-control-allow-methods") == "GET, HEAD, PUT", "the route's methods by default")
        #expect(answer.header("access-control-allow-headers") == "content-type, authorization")
        #expect(answer.header("access-control-max-age") == "3600")
        #expect(answer.header("access-control-allow-credentials") == nil)
        #expect(answer.header("vary") == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
    }

    @Test func aPreflightAskingForWhatIsNotAllowedIsA403NamingIt() throws {
        let cors = try #require(try Self.route("{origins: [https://app.example.com], methods: [GET], headers: [Authorization]}").cors)
        let origin = cors.preflight(origin: "https://evil.example", method: "GET", headers: nil)
        #expect(origin.status == 403)
        #expect(String(decoding: origin.body, as: UTF8.self).contains("the origin https://evil.example may not call this route"))
        #expect(origin.header("access-control-allow-origin") == nil)
        let method = cors.preflight(origin: "https://app.example.com", method: "PUT", headers: nil)
        #expect(method.status == 403)
        #expect(String(decoding: method.body, as: UTF8.self).contains("the method PUT may not be used from another origin here; allowed: GET"))
        let header = cors.preflight(origin: "https://APP.example.com", method: "GET", headers: "authorization, x-debug")
        #expect(header.status == 403)
        #expect(String(decoding: header.body, as: UTF8.self).contains("the request header x-debug may not be sent"))
    }

    @Test func anActualRequestsAnswerTellsTheBrowserWhatItMayReadAndThatItVariesByOrigin() throws {
        let listed = try #require(try Self.route("{origins: [https://app.example.com, http://localhost:3000], credentials: true}").cors)
        let answer = listed.responseHeaders(origin: "http://localhost:3000")
        #expect(answer.first { $0.name == "Access-Control-Allow-Origin" }?.value == "http://localhost:3000")
        #expect(answer.first { $0.name == "Access-Control-Allow-Credentials" }?.value == "true")
        #expect(answer.first { $0.name == "Access-Control-Expose-Headers" }?.value.contains("RateLimit, RateLimit-Policy, Retry-After") == true)
        #expect(answer.last.map { $0 == ("Vary", "Origin") } == true)
        let other = listed.responseHeaders(origin: "https://evil.example")
        #expect(other.map(\.name) == ["Vary"], "no permission for another origin, but the answer still varies by origin")
        #expect(listed.responseHeaders(origin: nil).map(\.name) == ["Vary"])

        let open = try #require(try Self.route("{origins: [\"*\"], expose_headers: [ETag]}").cors)
        let anyAnswer = open.responseHeaders(origin: "https://anyone.example")
        #expect(anyAnswer.map(\.name) == ["Access-Control-Allow-Origin", "Access-Control-Expose-Headers"])
        #expect(anyAnswer.first?.value == "*")
        #expect(anyAnswer.last?.value == "ETag")
    }

    @Test func aCORSSettingThatCannotWorkIsRefusedAtLoadNamingTheField() {
        #expect(Self.refusal("{origins: [\"*\"], credentials: true}").contains("routes[0].cors.origins: origins [\"*\"] cannot be used with credentials: true"))
        #expect(Self.refusal("{origins: [app.example.com]}").contains("routes[0].cors.origins: expected [\"*\"] or origins such as https://app.example.com"))
        #expect(Self.refusal("{origins: [https://app.example.com/path]}").contains("got \"https://app.example.com/path\""))
        #expect(Self.refusal("{origins: [https://a.example], methods: [DELETE]}").contains("routes[0].cors.methods: expected some of the route's methods (GET, HEAD, PUT)"))
        #expect(Self.refusal("{origins: [https://a.example], headers: [\"*\"]}").contains("a wildcard is not supported"))
        #expect(Self.refusal("{origins: [https://a.example], maxage: 5s}").contains("maxage"))
        #expect(Self.refusal("{methods: [GET]}").contains("routes[0].cors.origins"))
        #expect(Self.refusal("{origins: [https://a.example:8443]}") == "accepted")
    }
}
