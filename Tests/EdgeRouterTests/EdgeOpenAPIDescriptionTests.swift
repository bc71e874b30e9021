import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseSystemTests {
    /// docs/openapi/edge-router.yaml describes the running edge router with the repository's
    /// config/routes.yaml: every routed path and method is described and nothing else is, and every operation,
    /// sent its success case and its error cases, answers a status described for it, with that status's media
    /// type, a body that fits its schema (`$ref`s resolved: required properties present, types, constants,
    /// patterns, no undescribed properties), every header described as required, described headers that fit
    /// their schemas, and no Gatehouse header the description does not list for that answer.
    @Suite(.timeLimit(.minutes(2)))
    struct EdgeOpenAPIDescriptionTests {
        /// The description's operations are exactly the routes of config/routes.yaml, each with the security,
        /// statuses and headers its route implies; every `$ref` resolves and every example fits its schema.
        @Test func everyRouteOfTheRouteFileIsDescribedAndNothingElse() throws {
            let description = try APIDescription.load()
            #expect(description.root["openapi"]?.string?.hasPrefix("3.1.") == true)
            let unresolved = description.unresolvedReferences()
            #expect(unresolved.isEmpty, Comment(rawValue: "references that do not resolve:\n" + unresolved.joined(separator: "\n")))
            let badExamples = description.examplesThatBreakTheirSchemas()
            #expect(badExamples.isEmpty, Comment(rawValue: "examples that break their schemas:\n" + badExamples.joined(separator: "\n")))

            let routeFile = try YAMLReader.parse(
                try String(contentsOf: GatehouseSystem.repository.appendingPathComponent("config/routes.yaml"), encoding: .utf8), source: "config/routes.yaml"
            )
            let fileTiers = routeFile["tiers"]?.object ?? [:]
            var routed: Set<String> = []
            for route in routeFile["routes"]?.array ?? [] {
                let path = try #require(route["path"]?.string)
                let authentication = route["auth"]?.string ?? "required"
                let scopes = route["scopes"]?.array?.compactMap(\.string) ?? []
                let ownerOnly = route["owner_only"]?.bool ?? false
                let tiers = route["tiers"]?.object ?? fileTiers
                for method in route["methods"]?.array?.compactMap(\.string) ?? [] {
                    let name = "\(method.uppercased()) \(path)"
                    routed.insert(name)
                    guard let operation = description.operation(method, path) else {
                        Issue.record(Comment(rawValue: "\(name) is routed by config/routes.yaml but not described"))
                        continue
                    }
                    let statuses = Set(operation["responses"]?.object?.keys.map { $0 } ?? [])
                    let security = operation["security"]?.array ?? description.root["security"]?.array ?? []
                    let anonymous = security.contains { $0.object?.isEmpty == true }
                    #expect(anonymous == (authentication != "required"), Comment(rawValue: "\(name): auth \(authentication), but the security says anonymous callers \(anonymous ? "may" : "may not") call"))
                    if authentication != "none" {
                        #expect(security.contains { $0["bearerAuth"] != nil }, Comment(rawValue: "\(name) takes a bearer token"))
                        #expect(statuses.contains("401"), Comment(rawValue: "\(name) verifies tokens: 401 is described"))
                    }
                    // owner_only on a listing filters it; on a document it refuses other callers' writes.
                    if !scopes.isEmpty || (ownerOnly && path.contains("{id}")) {
                        #expect(statuses.contains("403"), Comment(rawValue: "\(name) checks scopes or ownership: 403 is described"))
                    }
                    if tiers.values.contains(where: { !($0.array ?? []).isEmpty }) {
                        #expect(statuses.contains("429"), Comment(rawValue: "\(name) is rate-limited: 429 is described"))
                    }
                    #expect(statuses.contains("503"), Comment(rawValue: "\(name) calls the data service: 503 is described"))
                    if route["cache"] != nil {
                        let success = try description.resolve(try #require(operation["responses"]?["200"]))
                        let cacheStatus = try success["headers"]?["Cache-Status"].map(description.resolve)
                        #expect(cacheStatus?["required"]?.bool == true, Comment(rawValue: "\(name) is cached: its 200 always carries Cache-Status"))
                    }
                    let declared = ((description.root["paths"]?[path]?["parameters"]?.array ?? []) + (operation["parameters"]?.array ?? []))
                        .compactMap { try? description.resolve($0) }.filter { $0["in"]?.string == "path" }
                    let templateNames = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
                    #expect(Set(declared.compactMap { $0["name"]?.string }) == templateNames, Comment(rawValue: "\(name): path parameters"))
                    #expect(declared.allSatisfy { $0["required"]?.bool == true }, Comment(rawValue: "\(name): path parameters are required"))
                }
            }
            let described = Set(description.operations.map { "\($0.method.uppercased()) \($0.path)" })
            #expect(routed.subtracting(described).isEmpty, Comment(rawValue: "routed but not described: \(routed.subtracting(described).sorted())"))
            #expect(described.subtracting(routed).isEmpty, Comment(rawValue: "described but not routed: \(described.subtracting(routed).sorted())"))
        }

        /// Every operation's success cases and error cases (401, 403, 404, 412, 304, 400, 413, 429, 503), plus
        /// `HEAD`, `405` and paths without a route, each answer checked by ``DescriptionCheck``.
        @Test func everyOperationAnswersItsSuccessAndErrorCasesAsDescribed() async throws {
            let description = try APIDescription.load()
            // Requests come "through a load balancer" at 127.0.0.1 so that each part below has its own client
            // address, and so its own public-tier and failed-token budgets.
            let system = try await GatehouseSystem(edgeEnvironment: ["EDGE_HTTP_TRUSTED_PROXIES": "127.0.0.1"])
            let check = DescriptionCheck(description, system)
            try await system.addUser("alice", password: "alice-password-1")
            let admin = try system.adminToken()
            let alice = try system.token(user: "alice", password: "alice-password-1")
            let reader = try Self.readOnlyToken(system)

            // GET /v1/{collection}/{id}: a miss, a hit, 304 from the cache and from the data service, HEAD, errors.
            let miss = try check.call("GET", "/v1/articles/doc-000001", 200)
            #expect(miss.response.headers["cache-status"] == "gatehouse; fwd=uri-miss; stored")
            let etag = "\"\(miss.json?["version"]?.int ?? -1)\""
            #expect(miss.response.headers["etag"] == etag, "the ETag is the version in quotes")
            #expect(miss.response.headers["ratelimit-policy"] == #""public";q=20;w=60"#, "anonymous callers: the public tier")
            let hit = try check.call("GET", "/v1/articles/doc-000001", 200)
            #expect(hit.response.headers["cache-status"]?.hasPrefix("gatehouse; hit; ttl=") == true)
            #expect(hit.response.body == miss.response.body)
            try check.call("GET", "/v1/articles/doc-000001", 304, headers: [("If-None-Match", "\"1\", \(etag)")])
            try check.call("GET", "/v1/articles/doc-000001?uncached=1", 304, headers: [("If-None-Match", etag)])
            try check.call("GET", "/v1/articles/doc-000001", 304, headers: [("If-None-Match", "W/\(etag)")])
            try check.call("GET", "/v1/articles/doc-000001", 200, headers: [("If-None-Match", "\"abc\"")])
            try check.call("GET", "/v1/articles/doc-000001", 412, headers: [("If-Match", "\"abc\"")])
            try check.call("GET", "/v1/articles/doc-000001", 400, headers: [("If-Match", "abc")])
            #expect(try check.call("HEAD", "/v1/articles/doc-000001", 200).response.headers["etag"] == etag)
            #expect(try check.call("GET", "/v1/articles/doc-000002", 200, token: admin).response.headers["ratelimit-policy"] == #""admin";q=1000;w=60"#)
            try check.call("GET", "/v1/articles/doc-999999", 404, token: admin)
            try check.call("HEAD", "/v1/articles/doc-999999", 404, token: admin)
            try check.call("GET", "/v1/articles/doc!1", 400, token: admin)
            try check.call("GET", "/v1/articles/doc-000001", 401, token: "not-a-jwt")
            try check.call("GET", "/v1/articles/doc-000001", 401, headers: [("Authorization", "Basic YWRtaW46YWRtaW4=")])
            try check.call("HEAD", "/v1/articles/doc-000001", 401, token: "not-a-jwt")
            let ownID = String(repeating: "r", count: 128)
            #expect(try check.call("GET", "/v1/articles/doc-000002", 200, token: admin, headers: [("X-Request-ID", ownID)]).response.headers["x-request-id"] == ownID)
            let replacedID = try check.call("GET", "/v1/articles/doc-000002", 200, token: admin, headers: [("X-Request-ID", ownID + "r")]).response.headers["x-request-id"]
            #expect(replacedID.flatMap { UUID(uuidString: $0) } != nil, "an X-Request-ID over 128 characters is replaced by a UUID")

            // GET /v1/{collection}: pages, the last page, HEAD, never 304, errors.
            let page = try check.call("GET", "/v1/articles?limit=2", 200)
            let firstIDs = page.json?["items"]?.array?.compactMap { $0["id"]?.string } ?? []
            #expect(firstIDs == ["doc-000001", "doc-000002"])
            let cursor = try #require(page.json?["next_cursor"]?.string)
            let second = try check.call("GET", "/v1/articles?limit=2&cursor=\(cursor)", 200, token: admin)
            #expect(second.json?["items"]?.array?.compactMap { $0["id"]?.string } == ["doc-000003", "doc-000004"])
            try check.call("GET", "/v1/articles?limit=2", 304, headers: [("If-None-Match", "*")])
            try check.call("GET", "/v1/articles?limit=2", 200, headers: [("If-None-Match", "\"1\"")])
            try check.call("HEAD", "/v1/articles?limit=2", 200)
            let everything = try check.call("GET", "/v1/articles?limit=1000&q=&cursor", 200, token: admin)
            #expect(everything.json?["items"]?.array?.count == 20, "parameters without a value are ignored")
            #expect(everything.json?["next_cursor"] == .null, "the last page's next_cursor is null")
            try check.call("GET", "/v1/articles?q=gateway+commit", 200, token: admin)
            try check.call("GET", "/v1/articles?limit=5000", 400, token: admin)
            try check.call("GET", "/v1/articles?sort=id", 400, token: admin)
            try check.call("GET", "/v1/articles?limit=2&limit=3", 400, token: admin)
            try check.call("GET", "/v1/articles?cursor=not!a!cursor", 400, token: admin)
            try check.call("GET", "/v1/articles", 401, token: "not-a-jwt")

            // POST /v1/{collection}.
            let created = try check.call("POST", "/v1/notes", 201, token: alice, body: #"{"text":"alice's note"}"#)
            let noteID = try #require(created.json?["id"]?.string)
            #expect(created.response.headers["location"] == "/v1/notes/\(noteID)")
            #expect(created.response.headers["etag"] == "\"\(created.json?["version"]?.int ?? -1)\"")
            #expect(created.json?["owner"] == .string("alice") && created.json?["data"] == .object(["text": .string("alice's note")]))
            #expect(created.response.headers["ratelimit-policy"] == #""user";q=200;w=60"#, "a token without the role admin: the user tier")
            try check.call("POST", "/v1/notes", 401, body: "{}")
            try check.call("POST", "/v1/notes", 403, token: reader, body: "{}")
            try check.call("POST", "/v1/notes", 400, token: alice, body: "not json")
            try check.call("POST", "/v1/notes", 400, token: alice, body: "[1, 2]")
            let huge = String(repeating: " ", count: 1_052_673)
            try check.call("POST", "/v1/notes", 413, body: huge)

            // GET /v1/mine/{collection}.
            let mine = try check.call("GET", "/v1/mine/notes", 200, token: alice)
            #expect(mine.json?["items"]?.array?.compactMap { $0["id"]?.string } == [noteID])
            try check.call("HEAD", "/v1/mine/notes", 200, token: alice)
            try check.call("GET", "/v1/mine/notes", 401)
            try check.call("GET", "/v1/mine/notes", 401, token: "not-a-jwt")
            try check.call("GET", "/v1/mine/notes?sort=id", 400, token: alice)

            // PUT /v1/{collection}/{id}.
            let etag3 = try #require(try check.call("GET", "/v1/articles/doc-000003", 200, token: admin).response.headers["etag"])
            let replaced = try check.call("PUT", "/v1/articles/doc-000003", 200, token: admin, headers: [("If-Match", etag3)], body: #"{"title":"rewritten"}"#)
            #expect(replaced.json?["data"] == .object(["title": .string("rewritten")]) && replaced.json?["owner"] == .string("seed"), "replacing keeps the owner")
            #expect(replaced.response.headers["etag"] == "\"\(replaced.json?["version"]?.int ?? -1)\"")
            try check.call("PUT", "/v1/articles/doc-000003", 412, token: admin, headers: [("If-Match", etag3)], body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 400, token: admin, headers: [("If-Match", "7")], body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 412, token: admin, headers: [("If-Match", "\"abc\"")], body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 403, token: alice, body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 403, token: reader, body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 401, body: "{}")
            try check.call("PUT", "/v1/articles/doc-000003", 400, token: admin, body: "42")
            try check.call("PUT", "/v1/articles/doc-000003", 413, token: admin, body: huge)
            let put = try check.call("PUT", "/v1/notes/spec-note", 201, token: admin, headers: [("If-None-Match", "*")], body: #"{"n":1}"#)
            #expect(put.response.headers["location"] == "/v1/notes/spec-note" && put.json?["owner"] == .string("admin"))
            let noteETag = try #require(put.response.headers["etag"])
            try check.call("PUT", "/v1/notes/spec-note", 412, token: admin, headers: [("If-None-Match", "*")], body: "{}")
            try check.call("PUT", "/v1/notes/never-written", 412, token: admin, headers: [("If-Match", "\"5\"")], body: "{}")
            try check.call("PUT", "/v1/notes/\(noteID)", 200, token: alice, body: #"{"text":"edited"}"#)

            // DELETE /v1/{collection}/{id}.
            try check.call("DELETE", "/v1/notes/spec-note", 412, token: admin, headers: [("If-Match", "\"1\"")])
            try check.call("DELETE", "/v1/notes/spec-note", 412, token: admin, headers: [("If-Match", "W/\(noteETag)")])
            try check.call("DELETE", "/v1/articles/doc-000004", 403, token: alice)
            try check.call("DELETE", "/v1/articles/doc-000004", 403, token: reader)
            try check.call("DELETE", "/v1/articles/doc-000004", 401)
            try check.call("DELETE", "/v1/notes/spec-note", 204, token: admin, headers: [("If-Match", noteETag)])
            try check.call("DELETE", "/v1/notes/spec-note", 404, token: admin)
            try check.call("DELETE", "/v1/notes/spec-note", 404, token: admin, headers: [("If-Match", noteETag)])
            try check.call("DELETE", "/v1/notes/spec-note", 404, token: alice)
            try check.call("GET", "/v1/notes/spec-note", 404, token: admin)

            // Paths without a route, and methods a path does not serve.
            let allowed: [(String, String, String)] = [
                ("PATCH", "/v1/articles/doc-000001", "DELETE, GET, HEAD, PUT"), ("POST", "/v1/articles/doc-000001", "DELETE, GET, HEAD, PUT"),
                ("DELETE", "/v1/articles", "GET, HEAD, POST"), ("PUT", "/v1/mine/notes", "GET, HEAD"),
            ]
            for (method, target, allow) in allowed {
                let answer = try check.call(method, target, 405, body: method == "DELETE" ? nil : "{}", component: "MethodNotAllowed")
                #expect(answer.response.headers["allow"] == allow, "\(method) \(target)")
            }
            try check.call("GET", "/v2/articles/doc-000001", 404, component: "NotFound", limiterAsked: false)
            try check.call("GET", "/v1/articles/doc-000001/", 404, component: "NotFound", limiterAsked: false)
            try check.call("HEAD", "/v2/articles/doc-000001", 404, component: "NotFound", limiterAsked: false)

            // 429, public tier: 20 a minute per client address.
            let crawler = "198.51.100.20"
            var crawled: [Int] = []
            while crawled.last != 429, crawled.count < 30 {
                crawled.append(try check.send("GET", "/v1/articles/doc-000002", from: crawler).status)
            }
            #expect(crawled.count >= 21 && crawled.dropLast().allSatisfy { $0 == 200 } && crawled.last == 429, "\(crawled)")
            try check.call("GET", "/v1/articles/doc-000002", 429, from: crawler)
            try check.call("HEAD", "/v1/articles/doc-000002", 429, from: crawler)
            try check.call("GET", "/v1/articles?limit=2", 429, from: crawler)

            // 429 before any signature work, for an address that sent too many bad tokens (auth.failure_policy).
            let attacker = "203.0.113.7"
            var refused: [Int] = []
            while refused.last != 429, refused.count < 15 {
                refused.append(try check.send("GET", "/v1/articles/doc-000001", token: "not-a-jwt", from: attacker).status)
            }
            #expect(refused.dropLast().allSatisfy { $0 == 401 } && refused.last == 429, "\(refused)")
            try check.call("GET", "/v1/articles/doc-000001", 429, token: "not-a-jwt", from: attacker, limiterAsked: false)
            try check.call("GET", "/v1/articles", 429, token: "not-a-jwt", from: attacker, limiterAsked: false)

            // 429, user tier: alice spends the rest of her 200 a minute; then every operation she calls is refused.
            var spent = 0
            while spent < 400 {
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<16 { group.addTask { try system.edge(0, "GET", "/v1/mine/notes", token: alice).status } }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                spent += statuses.count
                if statuses.contains(429) { break }
            }
            try check.call("GET", "/v1/mine/notes", 429, token: alice)
            try check.call("GET", "/v1/articles/doc-000001", 429, token: alice)
            try check.call("POST", "/v1/notes", 429, token: alice, body: "{}")
            try check.call("PUT", "/v1/notes/\(noteID)", 429, token: alice, body: "{}")
            try check.call("DELETE", "/v1/notes/\(noteID)", 429, token: alice)

            // 503: the data service is down; nothing below is cached.
            system.data.kill()
            let outage: [(method: String, target: String, body: String?)] = [
                ("GET", "/v1/articles/doc-000010", nil), ("HEAD", "/v1/articles/doc-000011", nil), ("GET", "/v1/articles?limit=3", nil),
                ("GET", "/v1/mine/notes?limit=3", nil), ("POST", "/v1/notes", "{}"), ("PUT", "/v1/notes/outage", "{}"), ("DELETE", "/v1/notes/outage", nil),
            ]
            let answers = try await withThrowingTaskGroup(of: (Int, HTTPProbeResponse).self) { group in
                for (index, request) in outage.enumerated() {
                    group.addTask {
                        (index, try system.edge(0, request.method, request.target, token: admin, headers: [("X-Forwarded-For", DescriptionCheck.client)], body: request.body))
                    }
                }
                return try await group.reduce(into: [Int: HTTPProbeResponse]()) { $0[$1.0] = $1.1 }
            }
            for (index, request) in outage.enumerated() {
                let response = try #require(answers[index])
                check.verify(request.method, request.target, response, 503)
            }

            // Each operation was seen succeeding and failing.
            for operation in description.operations {
                let name = "\(operation.method.uppercased()) \(operation.path)"
                let seen = check.observed[name] ?? []
                #expect(seen.contains { (200..<300).contains($0) }, Comment(rawValue: "\(name): no success case was exercised"))
                #expect(seen.contains { $0 >= 400 }, Comment(rawValue: "\(name): no error case was exercised"))
                let listed = Set(operation.operation["responses"]?.object?.keys.compactMap { Int($0) } ?? [])
                print("\(name): answered \(seen.sorted()); described but not exercised: \(listed.subtracting(seen).sorted())")
            }
        }


        /// A password-grant token for the bootstrapped admin with the scope `read` alone.
        static func readOnlyToken(_ system: GatehouseSystem) throws -> String {
            let body = "grant_type=password&username=admin&password=\(systemAdminPassword)&scope=read"
            let response = try httpRequest(
                port: system.authHTTPPort, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8)
            )
            return try #require(try JSONValue.parse(response.body)["access_token"]?.string, "\(response.body)")
        }
    }
}

// MARK: - Checking answers against the description

/// An answer and its body read as JSON (`nil` when it has none or is not described as JSON).
private struct Answer {
    var response: HTTPProbeResponse
    var json: Tree?
}

/// Sends requests to the system's first edge and checks each answer against the description; remembers which
/// statuses each described operation answered.
private final class DescriptionCheck {
    /// The client address of requests that do not name one (behind the trusted proxy 127.0.0.1).
    static let client = "198.51.100.1"
    /// Header fields the edge sets itself: each one an answer carries must be described for its status.
    static let gatehouseHeaders = [
        "etag", "location", "cache-status", "age", "ratelimit-policy", "ratelimit", "retry-after", "www-authenticate", "allow", "cache-control", "x-request-id",
    ]
    /// RFC 9110 reason phrases, the `title` of each problem.
    static let reasons = [
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
        412: "Precondition Failed", 413: "Content Too Large", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
    ]

    let description: APIDescription
    let system: GatehouseSystem
    /// `METHOD /template` to the statuses it answered (`HEAD` under its own name).
    private(set) var observed: [String: Set<Int>] = [:]

    init(_ description: APIDescription, _ system: GatehouseSystem) {
        self.description = description
        self.system = system
    }

    /// Sends a request, unchecked.
    func send(_ method: String, _ target: String, token: String? = nil, headers: [(String, String)] = [], body: String? = nil, from client: String = DescriptionCheck.client) throws -> HTTPProbeResponse {
        try self.system.edge(0, method, target, token: token, headers: headers + [("X-Forwarded-For", client)], body: body)
    }

    /// Sends a request and checks its answer (see ``verify(_:_:_:_:component:limiterAsked:sourceLocation:)``).
    @discardableResult
    func call(
        _ method: String, _ target: String, _ status: Int, token: String? = nil, headers: [(String, String)] = [], body: String? = nil,
        from client: String = DescriptionCheck.client, component: String? = nil, limiterAsked: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Answer {
        let response = try self.send(method, target, token: token, headers: headers, body: body, from: client)
        return Answer(response: response, json: self.verify(method, target, response, status, component: component, limiterAsked: limiterAsked, sourceLocation: sourceLocation))
    }

    /// Checks one answer: the expected status, described for the operation of the path (the template with the
    /// most literal segments, as the edge routes; `HEAD` under `get`), or the response `component`
    /// (`components.responses`) for answers outside every operation; then the answer against that response.
    /// - Parameter limiterAsked: Whether `RateLimit-Policy` and `RateLimit` must be there; by default as the
    ///   description says: everything but `401`, `405`, `413` and a `403` for a missing scope.
    /// - Returns: The body read as JSON.
    @discardableResult
    func verify(
        _ method: String, _ target: String, _ response: HTTPProbeResponse, _ status: Int, component: String? = nil, limiterAsked: Bool? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Tree? {
        var problems: [String] = []
        if response.status != status { problems.append("expected \(status), got \(response.status) \(response.body.prefix(300))") }
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        var described: Tree?
        if let component {
            described = self.description.root["components"]?["responses"]?[component]
            if described == nil { problems.append("components.responses.\(component) is not described") }
        } else if let template = self.description.template(of: path), let operation = self.description.operation(method == "HEAD" ? "GET" : method, template) {
            self.observed["\(method) \(template)", default: []].insert(response.status)
            described = self.description.response(operation, status: response.status)
            if described == nil {
                let listed = operation["responses"]?.object?.keys.sorted() ?? []
                problems.append("\(response.status) is not described for \(method) \(template) (described: \(listed.joined(separator: ", ")))")
            }
        } else {
            problems.append("no operation is described for \(method) \(path)")
        }
        var json: Tree?
        if let described {
            let asked = limiterAsked ?? !([401, 405, 413].contains(response.status) || (response.status == 403 && response.headers["www-authenticate"] != nil))
            json = self.check(response, against: described, head: method == "HEAD", limiterAsked: asked, problems: &problems)
        }
        #expect(problems.isEmpty, Comment(rawValue: "\(method) \(target) → \(response.status):\n  " + problems.joined(separator: "\n  ")), sourceLocation: sourceLocation)
        return json
    }

    private func check(_ response: HTTPProbeResponse, against object: Tree, head: Bool, limiterAsked: Bool, problems: inout [String]) -> Tree? {
        let described: Tree
        do { described = try self.description.resolve(object) } catch {
            problems.append("\(error)")
            return nil
        }
        var json: Tree?
        // The body and its media type.
        let contentType = response.headers["content-type"].map { $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }
        if let content = described["content"]?.object, !content.isEmpty {
            if let contentType, let media = content[contentType] {
                if head {
                    if !response.body.isEmpty { problems.append("a HEAD answer has a body: \(response.body.prefix(200))") }
                } else {
                    do {
                        let value = try JSONValue.parse(response.body)
                        json = value
                        if (try? JSONSerialization.jsonObject(with: Data(response.body.utf8), options: [.fragmentsAllowed])) == nil {
                            problems.append("the body is not JSON: \(response.body.prefix(200))")
                        }
                        if let schema = media["schema"] { problems += self.description.schemaProblems(value, schema, at: "body") }
                        if contentType == "application/problem+json" {
                            if value["status"]?.int != response.status { problems.append("the problem's status is \(value["status"].map { "\($0)" } ?? "missing"), not \(response.status)") }
                            if let reason = Self.reasons[response.status], value["title"]?.string != reason { problems.append("the problem's title is not '\(reason)'") }
                        }
                    } catch {
                        problems.append("the body is not JSON (\(error)): \(response.body.prefix(200))")
                    }
                }
            } else {
                problems.append("Content-Type \(contentType ?? "(none)") is not described; described: \(content.keys.sorted().joined(separator: ", "))")
            }
        } else if !response.body.isEmpty {
            problems.append("described without content, but the body is \(response.body.prefix(200))")
        }
        // Headers: the required ones are there, the described ones fit their schemas, no Gatehouse header is undescribed.
        let headers = described["headers"]?.object ?? [:]
        for (name, header) in headers.sorted(by: { $0.key < $1.key }) {
            guard let header = try? self.description.resolve(header) else {
                problems.append("the header \(name) does not resolve")
                continue
            }
            let value = response.headers[name.lowercased()]
            if header["required"]?.bool == true, value == nil { problems.append("the required header \(name) is missing") }
            if let value, let schema = header["schema"] {
                let integer = (try? self.description.resolve(schema))?["type"]?.string == "integer"
                let typed: Tree = integer ? (Int(value).map(Tree.int) ?? .string(value)) : .string(value)
                problems += self.description.schemaProblems(typed, schema, at: "header \(name)")
            }
        }
        let listed = Set(headers.keys.map { $0.lowercased() })
        for name in Self.gatehouseHeaders where response.headers[name] != nil && !listed.contains(name) {
            problems.append("the header \(name) (\(response.headers[name] ?? "")) is sent but not described for this answer")
        }
        for name in ["ratelimit-policy", "ratelimit"] where (response.headers[name] != nil) != limiterAsked {
            problems.append(limiterAsked ? "\(name) is missing after a limiter decision" : "\(name) is sent, but the limiter was not asked")
        }
        if let cacheStatus = response.headers["cache-status"], (response.headers["age"] != nil) != cacheStatus.hasPrefix("gatehouse; hit") {
            problems.append("Age (\(response.headers["age"] ?? "none")) must come with a cache hit and only then (Cache-Status \(cacheStatus))")
        }
        return json
    }
}

// MARK: - The description

/// docs/openapi/edge-router.yaml, read.
private struct APIDescription {
    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    let root: Tree

    static func load() throws -> APIDescription {
        let url = GatehouseSystem.repository.appendingPathComponent("docs/openapi/edge-router.yaml")
        return APIDescription(root: try YAMLReader.parse(try String(contentsOf: url, encoding: .utf8), source: "docs/openapi/edge-router.yaml"))
    }

    /// Every operation, by path and lower-case method.
    var operations: [(path: String, method: String, operation: Tree)] {
        (self.root["paths"]?.object ?? [:]).sorted { $0.key < $1.key }.flatMap { path, item in
            Self.methods.compactMap { method in item[method].map { (path, method, $0) } }
        }
    }

    func operation(_ method: String, _ template: String) -> Tree? {
        self.root["paths"]?[template]?[method.lowercased()]
    }

    /// The template of `paths` that a request path falls under: of those that match, the one with the most
    /// literal segments.
    func template(of path: String) -> String? {
        let segments = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var best: (template: String, literals: Int)?
        for template in (self.root["paths"]?.object ?? [:]).keys.sorted() {
            let parts = Array(template.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
            guard parts.count == segments.count else { continue }
            var literals = 0
            var matches = true
            for (part, segment) in zip(parts, segments) {
                if part.hasPrefix("{"), part.hasSuffix("}") {
                    matches = matches && !segment.isEmpty
                } else if part == segment {
                    literals += 1
                } else {
                    matches = false
                }
            }
            if matches, literals > best?.literals ?? -1 { best = (template, literals) }
        }
        return best?.template
    }

    /// The response object of an operation for a status: the code itself, else its range (`4XX`), else `default`.
    func response(_ operation: Tree, status: Int) -> Tree? {
        let responses = operation["responses"]
        return responses?[String(status)] ?? responses?["\(status / 100)XX"] ?? responses?["default"]
    }

    /// Follows `$ref`s (local JSON pointers) to the node they name.
    func resolve(_ node: Tree) throws -> Tree {
        var node = node
        var hops = 0
        while let reference = node["$ref"]?.string {
            guard reference.hasPrefix("#/"), hops < 32 else { throw YAMLFailure("cannot resolve \(reference)") }
            var target = self.root
            for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
                let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                guard let next = target[key] else { throw YAMLFailure("\(reference) does not resolve") }
                target = next
            }
            node = target
            hops += 1
        }
        return node
    }

    /// Every `$ref` that does not resolve, with where it is.
    func unresolvedReferences() -> [String] {
        var failures: [String] = []
        func walk(_ node: Tree, _ location: String) {
            switch node {
            case .object(let members):
                if members["$ref"] != nil, (try? self.resolve(node)) == nil { failures.append("\(location): \(members["$ref"].map { "\($0)" } ?? "")") }
                for (key, value) in members { walk(value, "\(location)/\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(location)/\(index)") }
            default: break
            }
        }
        walk(self.root, "#")
        return failures.sorted()
    }

    /// Every `example` and `examples.*.value` that does not fit the schema beside it (media types, headers,
    /// parameters) or the schema it belongs to.
    func examplesThatBreakTheirSchemas() -> [String] {
        var failures: [String] = []
        func examples(of node: Tree) -> [(String, Tree)] {
            var found: [(String, Tree)] = []
            if let example = node["example"] { found.append(("example", example)) }
            for (name, example) in node["examples"]?.object ?? [:] {
                if let value = (try? self.resolve(example))?["value"] { found.append(("examples.\(name)", value)) }
            }
            return found
        }
        func walk(_ node: Tree, _ location: String) {
            switch node {
            case .object(let members):
                let schema = members["schema"] ?? (members["type"] != nil || members["properties"] != nil ? node : nil)
                if let schema {
                    for (name, example) in examples(of: node) {
                        let integerHeader = (try? self.resolve(schema))?["type"]?.string == "integer"
                        let value = integerHeader ? (example.string.flatMap { Int($0) }.map(Tree.int) ?? example) : example
                        failures += self.schemaProblems(value, schema, at: "\(location)/\(name)")
                    }
                }
                for (key, value) in members where key != "example" && key != "examples" { walk(value, "\(location)/\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(location)/\(index)") }
            default: break
            }
        }
        walk(self.root, "#")
        return failures.sorted()
    }

    /// What is wrong with a value under a JSON Schema (the keywords the description uses, `$ref`s resolved).
    /// Properties a schema with `properties` does not list are wrong unless `additionalProperties` allows them.
    func schemaProblems(_ value: Tree, _ schemaNode: Tree, at location: String) -> [String] {
        guard let schema = try? self.resolve(schemaNode) else { return ["\(location): its schema does not resolve"] }
        var problems: [String] = []
        for part in schema["allOf"]?.array ?? [] { problems += self.schemaProblems(value, part, at: location) }
        if let alternatives = schema["anyOf"]?.array ?? schema["oneOf"]?.array,
            !alternatives.contains(where: { self.schemaProblems(value, $0, at: location).isEmpty })
        {
            problems.append("\(location): \(value) fits none of its schema's alternatives")
        }
        if let constant = schema["const"], !value.sameJSON(as: constant) { problems.append("\(location): \(value) is not \(constant)") }
        if let choices = schema["enum"]?.array, !choices.contains(where: value.sameJSON) { problems.append("\(location): \(value) is not one of \(Tree.array(choices))") }
        if let type = schema["type"] {
            let types = type.array?.compactMap(\.string) ?? [type.string ?? "?"]
            guard types.contains(where: value.isOf) else {
                return problems + ["\(location): \(value) is not of type \(types.joined(separator: " or "))"]
            }
        }
        switch value {
        case .object(let members):
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where members[name] == nil {
                problems.append("\(location): the required property \(name) is missing")
            }
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    problems += self.schemaProblems(member, property, at: "\(location).\(name)")
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        problems.append("\(location).\(name): not allowed")
                    } else if additional.object != nil {
                        problems += self.schemaProblems(member, additional, at: "\(location).\(name)")
                    }
                } else if !properties.isEmpty {
                    problems.append("\(location).\(name): a property the schema does not describe")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { problems += self.schemaProblems(item, itemSchema, at: "\(location)[\(index)]") }
            }
            if let minimum = schema["minItems"]?.int, items.count < minimum { problems.append("\(location): fewer than \(minimum) items") }
            if let maximum = schema["maxItems"]?.int, items.count > maximum { problems.append("\(location): more than \(maximum) items") }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minimum = schema["minLength"]?.int, length < minimum { problems.append("\(location): '\(text)' is shorter than \(minimum)") }
            if let maximum = schema["maxLength"]?.int, length > maximum { problems.append("\(location): '\(text.prefix(40))…' is longer than \(maximum)") }
            if let pattern = schema["pattern"]?.string {
                if let expression = try? NSRegularExpression(pattern: pattern) {
                    if expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                        problems.append("\(location): '\(text)' does not match \(pattern)")
                    }
                } else {
                    problems.append("\(location): the pattern \(pattern) is not a regular expression")
                }
            }
        case .int, .double:
            let number = value.number ?? 0
            if let minimum = schema["minimum"]?.number, number < minimum { problems.append("\(location): \(value) is below \(minimum)") }
            if let maximum = schema["maximum"]?.number, number > maximum { problems.append("\(location): \(value) is above \(maximum)") }
            if let bound = schema["exclusiveMinimum"]?.number, number <= bound { problems.append("\(location): \(value) is not above \(bound)") }
            if let bound = schema["exclusiveMaximum"]?.number, number >= bound { problems.append("\(location): \(value) is not below \(bound)") }
        default:
            break
        }
        return problems
    }
}

// MARK: - YAML and JSON, as far as the description and the route file need

/// A YAML or JSON value.
private enum Tree: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Tree])
    case object([String: Tree])

    subscript(key: String) -> Tree? {
        if case .object(let members) = self { members[key] } else { nil }
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .int(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [Tree]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: Tree]? { if case .object(let value) = self { value } else { nil } }
    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// Whether the value is of a JSON Schema type.
    func isOf(_ type: String) -> Bool {
        switch (type, self) {
        case ("null", .null), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double), ("string", .string), ("array", .array),
            ("object", .object):
            true
        case ("integer", .double(let value)): value.rounded() == value
        default: false
        }
    }

    /// Equality as JSON Schema sees it: `1` and `1.0` are the same number.
    func sameJSON(as other: Tree) -> Bool {
        if let number = self.number, let otherNumber = other.number { return number == otherNumber }
        return self == other
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value.count > 80 ? String(value.prefix(80)) + "…" : value)\""
        case .array(let items): "[" + items.map(\.description).joined(separator: ",") + "]"
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

private struct YAMLFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private enum JSONValue {
    /// Reads JSON text (checked with JSONSerialization too by callers that need strictness).
    static func parse(_ text: String) throws -> Tree {
        var scanner = FlowScanner(text)
        let value = try scanner.value(inFlow: true)
        guard scanner.restIsBlank else { throw YAMLFailure("unexpected text after the JSON value: \(scanner.remainder.prefix(40))") }
        return value
    }
}

/// Block YAML: mappings, sequences (also as `- key: value` items), plain, quoted and block (`|`, `>`) scalars,
/// flow collections and comments. No anchors, aliases, tags or multiple documents; anything it does not read
/// is an error naming the line.
private struct YAMLReader {
    private var lines: [String]
    private var index = 0
    private let source: String

    static func parse(_ text: String, source: String) throws -> Tree {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }
        var reader = YAMLReader(lines: lines, source: source)
        let value = try reader.node(deeperThan: -1)
        if let line = reader.nextSignificantLine() { throw reader.failure(at: line, "unexpected text") }
        return value
    }

    private init(lines: [String], source: String) {
        self.lines = lines
        self.source = source
    }

    private func failure(at line: Int, _ message: String) -> YAMLFailure {
        YAMLFailure("\(self.source):\(line + 1): \(message)")
    }

    private static func indentation(_ line: String) -> Int {
        line.prefix { $0 == " " }.count
    }

    private static func isBlankOrComment(_ line: String) -> Bool {
        let text = line.drop { $0 == " " }
        return text.isEmpty || text.hasPrefix("#")
    }

    private static func isItem(_ line: String, at column: Int) -> Bool {
        let rest = line.dropFirst(column)
        return rest == "-" || rest.hasPrefix("- ")
    }

    private mutating func nextSignificantLine() -> Int? {
        while self.index < self.lines.count, Self.isBlankOrComment(self.lines[self.index]) { self.index += 1 }
        return self.index < self.lines.count ? self.index : nil
    }

    /// The block node starting at the next significant line, when that line is indented more than `parent`.
    private mutating func node(deeperThan parent: Int) throws -> Tree {
        guard let line = self.nextSignificantLine() else { return .null }
        let column = Self.indentation(self.lines[line])
        guard column > parent else { return .null }
        if self.lines[line].dropFirst(column).first == "\t" { throw self.failure(at: line, "a tab in the indentation") }
        return Self.isItem(self.lines[line], at: column) ? try self.sequence(at: column) : try self.mapping(at: column)
    }

    private mutating func mapping(at column: Int) throws -> Tree {
        var members: [String: Tree] = [:]
        while let line = self.nextSignificantLine(), Self.indentation(self.lines[line]) == column, !Self.isItem(self.lines[line], at: column) {
            let content = String(self.lines[line].dropFirst(column))
            guard let split = try Self.splitKey(content) else { throw self.failure(at: line, "expected 'key: value', got '\(content)'") }
            guard members[split.key] == nil else { throw self.failure(at: line, "the key '\(split.key)' is repeated") }
            self.index = line + 1
            members[split.key] = try self.value(split.rest, column: column, line: line)
        }
        if let line = self.nextSignificantLine() {
            let next = Self.indentation(self.lines[line])
            if next > column || (next == column && Self.isItem(self.lines[line], at: column)) { throw self.failure(at: line, "unexpected indentation") }
        }
        return .object(members)
    }

    private mutating func sequence(at column: Int) throws -> Tree {
        var items: [Tree] = []
        while let line = self.nextSignificantLine(), Self.indentation(self.lines[line]) == column, Self.isItem(self.lines[line], at: column) {
            let afterDash = self.lines[line].dropFirst(column + 1)
            let content = afterDash.drop { $0 == " " }
            let contentColumn = column + 1 + (afterDash.count - content.count)
            if content.isEmpty || content.hasPrefix("#") {
                self.index = line + 1
                items.append(try self.node(deeperThan: column))
            } else if try Self.splitKey(String(content)) != nil || Self.isItem(String(content), at: 0) {
                // `- key: value` (or `- - item`): the item is the block that starts at the content's column.
                self.lines[line] = String(repeating: " ", count: contentColumn) + content
                self.index = line
                items.append(try self.node(deeperThan: column))
            } else {
                self.index = line + 1
                items.append(try self.inline(String(content), column: column, line: line))
            }
        }
        if let line = self.nextSignificantLine(), Self.indentation(self.lines[line]) > column { throw self.failure(at: line, "unexpected indentation") }
        return .array(items)
    }

    /// `key` and the rest of a `key: rest` line; `nil` when the line is not one.
    private static func splitKey(_ content: String) throws -> (key: String, rest: String)? {
        if content.first == "\"" || content.first == "'" {
            var scanner = FlowScanner(content)
            let key = try scanner.quoted()
            let after = scanner.remainder.drop { $0 == " " }
            guard after.first == ":", after.dropFirst().first.map({ $0 == " " }) ?? true else { return nil }
            return (key, String(after.dropFirst()))
        }
        guard let first = content.first, !"[{#&*!|>%@`".contains(first) else { return nil }
        var position = content.startIndex
        while let colon = content[position...].firstIndex(of: ":") {
            let next = content.index(after: colon)
            if next == content.endIndex || content[next] == " " {
                let key = content[..<colon].trimmingCharacters(in: .whitespaces)
                return key.isEmpty ? nil : (key, String(content[next...]))
            }
            position = next
        }
        return nil
    }

    /// The value after `key:` on a line of a mapping at `column`.
    private mutating func value(_ rest: String, column: Int, line: Int) throws -> Tree {
        let text = String(rest.drop { $0 == " " })
        if text.isEmpty || text.hasPrefix("#") {
            if let next = self.nextSignificantLine(), Self.indentation(self.lines[next]) == column, Self.isItem(self.lines[next], at: column) {
                return try self.sequence(at: column)
            }
            return try self.node(deeperThan: column)
        }
        if text.hasPrefix("|") || text.hasPrefix(">") { return try self.blockScalar(text, column: column, line: line) }
        return try self.inline(text, column: column, line: line)
    }

    /// A flow collection, a quoted scalar, or a plain scalar (which may go on over more-indented lines).
    private mutating func inline(_ text: String, column: Int, line: Int) throws -> Tree {
        guard let first = text.first else { return .null }
        if "[{\"'".contains(first) {
            var scanner = FlowScanner(text)
            let value: Tree
            do { value = try scanner.value(inFlow: false) } catch { throw self.failure(at: line, "\(error)") }
            guard scanner.restIsBlankOrComment else { throw self.failure(at: line, "unexpected text after the value: '\(scanner.remainder)'") }
            return value
        }
        if "&*!%@`".contains(first) { throw self.failure(at: line, "anchors, aliases, tags and directives are not read") }
        var words = [Self.plainText(text)]
        while self.index < self.lines.count, !Self.isBlankOrComment(self.lines[self.index]), Self.indentation(self.lines[self.index]) > column {
            words.append(Self.plainText(String(self.lines[self.index].drop { $0 == " " })))
            self.index += 1
        }
        return Self.resolve(words.joined(separator: " "))
    }

    private static func plainText(_ text: String) -> String {
        let cut = text.range(of: " #").map { String(text[..<$0.lowerBound]) } ?? text
        return cut.trimmingCharacters(in: .whitespaces)
    }

    private mutating func blockScalar(_ header: String, column: Int, line: Int) throws -> Tree {
        let indicator = Self.plainText(header)
        guard ["|", "|-", "|+", ">", ">-", ">+"].contains(indicator) else { throw self.failure(at: line, "the block scalar header '\(indicator)' is not read") }
        var content: [String] = []
        var contentColumn: Int?
        while self.index < self.lines.count {
            let text = self.lines[self.index]
            if text.allSatisfy({ $0 == " " }) {
                content.append("")
                self.index += 1
                continue
            }
            let indent = Self.indentation(text)
            if contentColumn == nil {
                guard indent > column else { break }
                contentColumn = indent
            }
            guard let contentColumn, indent >= contentColumn else { break }
            content.append(String(text.dropFirst(contentColumn)))
            self.index += 1
        }
        var trailing = 0
        while content.last == "" {
            content.removeLast()
            trailing += 1
        }
        var body: String
        if indicator.hasPrefix(">") {
            body = ""
            var joinWithSpace = false
            for text in content {
                if text.isEmpty {
                    body += "\n"
                    joinWithSpace = false
                } else {
                    body += (joinWithSpace ? " " : "") + text
                    joinWithSpace = true
                }
            }
        } else {
            body = content.joined(separator: "\n")
        }
        switch indicator.last {
        case "-": break
        case "+": body += String(repeating: "\n", count: trailing + 1)
        default: if !content.isEmpty { body += "\n" }
        }
        return .string(body)
    }

    /// The value of a plain scalar (YAML 1.2 core schema).
    static func resolve(_ text: String) -> Tree {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let integer = Int(text) { return .int(integer) }
        if let first = text.first, "-+.0123456789".contains(first), text.contains(where: \.isNumber), !text.contains("x"), let number = Double(text), number.isFinite {
            return .double(number)
        }
        return .string(text)
    }
}

/// Reads flow YAML (`[a, b]`, `{k: v}`, quoted scalars) from one line, and JSON.
private struct FlowScanner {
    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ text: String) {
        self.scalars = Array(text.unicodeScalars)
    }

    var remainder: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self.scalars[self.position...])
        return String(view)
    }

    var restIsBlank: Bool {
        self.scalars[self.position...].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    }

    var restIsBlankOrComment: Bool {
        let rest = self.remainder.drop { $0 == " " || $0 == "\t" }
        return rest.isEmpty || rest.hasPrefix("#")
    }

    private var current: Unicode.Scalar? {
        self.position < self.scalars.count ? self.scalars[self.position] : nil
    }

    private mutating func skipWhitespace() {
        while let scalar = self.current, scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" { self.position += 1 }
    }

    mutating func value(inFlow: Bool) throws -> Tree {
        self.skipWhitespace()
        switch self.current {
        case nil: throw YAMLFailure("a value is missing")
        case "["?: return try self.sequence()
        case "{"?: return try self.mapping()
        case "\""?, "'"?: return .string(try self.quoted())
        default: return YAMLReader.resolve(self.plain(inFlow: inFlow))
        }
    }

    private mutating func sequence() throws -> Tree {
        self.position += 1
        var items: [Tree] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.position += 1
            return .array(items)
        }
        while true {
            items.append(try self.value(inFlow: true))
            self.skipWhitespace()
            switch self.current {
            case ","?: self.position += 1
            case "]"?:
                self.position += 1
                return .array(items)
            default: throw YAMLFailure("expected ',' or ']' at column \(self.position + 1)")
            }
        }
    }

    private mutating func mapping() throws -> Tree {
        self.position += 1
        var members: [String: Tree] = [:]
        self.skipWhitespace()
        if self.current == "}" {
            self.position += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            let key: String
            if self.current == "\"" || self.current == "'" { key = try self.quoted() } else { key = self.plain(inFlow: true) }
            guard members[key] == nil else { throw YAMLFailure("the key '\(key)' is repeated") }
            self.skipWhitespace()
            if self.current == ":" {
                self.position += 1
                self.skipWhitespace()
                if self.current == "," || self.current == "}" { members[key] = .null } else { members[key] = try self.value(inFlow: true) }
            } else {
                members[key] = .null
            }
            self.skipWhitespace()
            switch self.current {
            case ","?: self.position += 1
            case "}"?:
                self.position += 1
                return .object(members)
            default: throw YAMLFailure("expected ',' or '}' at column \(self.position + 1)")
            }
        }
    }

    /// A plain scalar: up to a flow indicator (in flow), `: `, or ` #`.
    private mutating func plain(inFlow: Bool) -> String {
        var text = String.UnicodeScalarView()
        while let scalar = self.current {
            if inFlow, "[]{},".unicodeScalars.contains(scalar) { break }
            if scalar == ":" {
                let next = self.position + 1 < self.scalars.count ? self.scalars[self.position + 1] : nil
                if next == nil || next == " " || (inFlow && next.map { "[]{},".unicodeScalars.contains($0) } == true) { break }
            }
            if scalar == "#", text.last == " " { break }
            text.append(scalar)
            self.position += 1
        }
        return String(text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A single- or double-quoted scalar, with YAML (and so JSON) escapes.
    mutating func quoted() throws -> String {
        guard let quote = self.current else { throw YAMLFailure("a quoted string is missing") }
        self.position += 1
        var text = String.UnicodeScalarView()
        while let scalar = self.current {
            self.position += 1
            if scalar == quote {
                if quote == "'", self.current == "'" {
                    text.append("'")
                    self.position += 1
                    continue
                }
                return String(text)
            }
            guard quote == "\"", scalar == "\\" else {
                text.append(scalar)
                continue
            }
            guard let escape = self.current else { break }
            self.position += 1
            switch escape {
            case "\"", "\\", "/", " ": text.append(escape)
            case "b": text.append("\u{8}")
            case "f": text.append("\u{C}")
            case "n": text.append("\n")
            case "r": text.append("\r")
            case "t": text.append("\t")
            case "0": text.append("\u{0}")
            case "a": text.append("\u{7}")
            case "e": text.append("\u{1B}")
            case "N": text.append("\u{85}")
            case "_": text.append("\u{A0}")
            case "x", "u", "U":
                var code = try self.hex(escape == "x" ? 2 : escape == "u" ? 4 : 8)
                if (0xD800..<0xDC00).contains(code), self.current == "\\", self.position + 1 < self.scalars.count, self.scalars[self.position + 1] == "u" {
                    self.position += 2
                    let low = try self.hex(4)
                    guard (0xDC00..<0xE000).contains(low) else { throw YAMLFailure("a lone surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let decoded = Unicode.Scalar(code) else { throw YAMLFailure("\\\(escape) names no character") }
                text.append(decoded)
            default: throw YAMLFailure("the escape \\\(escape) is not read")
            }
        }
        throw YAMLFailure("a quoted string is not closed")
    }

    private mutating func hex(_ count: Int) throws -> UInt32 {
        guard self.position + count <= self.scalars.count else { throw YAMLFailure("a short escape") }
        var digits = String.UnicodeScalarView()
        digits.append(contentsOf: self.scalars[self.position..<(self.position + count)])
        guard let code = UInt32(String(digits), radix: 16) else { throw YAMLFailure("a bad escape") }
        self.position += count
        return code
    }
}
