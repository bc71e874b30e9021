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
            let description = try OpenAPIDescription.load("docs/openapi/edge-router.yaml")
            #expect(description.root["openapi"]?.string?.hasPrefix("3.1.") == true)
            let unresolved = description.unresolvedReferences()
            #expect(unresolved.isEmpty, Comment(rawValue: "references that do not resolve:\n" + unresolved.joined(separator: "\n")))
            let badExamples = description.examplesThatBreakTheirSchemas()
            #expect(badExamples.isEmpty, Comment(rawValue: "examples that break their schemas:\n" + badExamples.joined(separator: "\n")))

            let routeFile = try DocumentTree.yaml(
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
            let description = try OpenAPIDescription.load("docs/openapi/edge-router.yaml")
            // Requests come "through a load balancer" at 127.0.0.1 so that each part below has its own client
            // address, and so its own public-tier and failed-token budgets.
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_TRUSTED_PROXIES": "127.0.0.1"]) { system in
                let check = DescriptionCheck(description, system)
                try await system.addUser("alice", password: "alice-password-1")
                let admin = try await system.adminToken()
                let alice = try await system.token(user: "alice", password: "alice-password-1")
                let reader = try await Self.readOnlyToken(system)

                // GET /v1/{collection}/{id}: a miss, a hit, 304 from the cache and from the data service, HEAD, errors.
                let miss = try await check.call("GET", "/v1/articles/doc-000001", 200)
                #expect(miss.response.headers["cache-status"] == "gatehouse; fwd=uri-miss; stored")
                let etag = "\"\(miss.json?["version"]?.int ?? -1)\""
                #expect(miss.response.headers["etag"] == etag, "the ETag is the version in quotes")
                #expect(miss.response.headers["ratelimit-policy"] == #""public";q=20;w=60"#, "anonymous callers: the public tier")
                let hit = try await check.call("GET", "/v1/articles/doc-000001", 200)
                #expect(hit.response.headers["cache-status"]?.hasPrefix("gatehouse; hit; ttl=") == true)
                #expect(hit.response.body == miss.response.body)
                try await check.call("GET", "/v1/articles/doc-000001", 304, headers: [("If-None-Match", "\"1\", \(etag)")])
                try await check.call("GET", "/v1/articles/doc-000001?uncached=1", 304, headers: [("If-None-Match", etag)])
                try await check.call("GET", "/v1/articles/doc-000001", 304, headers: [("If-None-Match", "W/\(etag)")])
                try await check.call("GET", "/v1/articles/doc-000001", 200, headers: [("If-None-Match", "\"abc\"")])
                try await check.call("GET", "/v1/articles/doc-000001", 412, headers: [("If-Match", "\"abc\"")])
                try await check.call("GET", "/v1/articles/doc-000001", 400, headers: [("If-Match", "abc")])
                #expect(try await check.call("HEAD", "/v1/articles/doc-000001", 200).response.headers["etag"] == etag)
                #expect(try await check.call("GET", "/v1/articles/doc-000002", 200, token: admin).response.headers["ratelimit-policy"] == #""admin";q=1000;w=60"#)
                try await check.call("GET", "/v1/articles/doc-999999", 404, token: admin)
                try await check.call("HEAD", "/v1/articles/doc-999999", 404, token: admin)
                try await check.call("GET", "/v1/articles/doc!1", 400, token: admin)
                try await check.call("GET", "/v1/articles/doc-000001", 401, token: "not-a-jwt")
                try await check.call("GET", "/v1/articles/doc-000001", 401, headers: [("Authorization", "Basic YWRtaW46YWRtaW4=")])
                try await check.call("HEAD", "/v1/articles/doc-000001", 401, token: "not-a-jwt")
                let ownID = String(repeating: "r", count: 128)
                #expect(try await check.call("GET", "/v1/articles/doc-000002", 200, token: admin, headers: [("X-Request-ID", ownID)]).response.headers["x-request-id"] == ownID)
                let replacedID = try await check.call("GET", "/v1/articles/doc-000002", 200, token: admin, headers: [("X-Request-ID", ownID + "r")]).response.headers["x-request-id"]
                #expect(replacedID.flatMap { UUID(uuidString: $0) } != nil, "an X-Request-ID over 128 characters is replaced by a UUID")

                // GET /v1/{collection}: pages, the last page, HEAD, never 304, errors.
                let page = try await check.call("GET", "/v1/articles?limit=2", 200)
                let firstIDs = page.json?["items"]?.array?.compactMap { $0["id"]?.string } ?? []
                #expect(firstIDs == ["doc-000001", "doc-000002"])
                let cursor = try #require(page.json?["next_cursor"]?.string)
                let second = try await check.call("GET", "/v1/articles?limit=2&cursor=\(cursor)", 200, token: admin)
                #expect(second.json?["items"]?.array?.compactMap { $0["id"]?.string } == ["doc-000003", "doc-000004"])
                try await check.call("GET", "/v1/articles?limit=2", 304, headers: [("If-None-Match", "*")])
                try await check.call("GET", "/v1/articles?limit=2", 200, headers: [("If-None-Match", "\"1\"")])
                try await check.call("HEAD", "/v1/articles?limit=2", 200)
                let everything = try await check.call("GET", "/v1/articles?limit=1000&q=&cursor", 200, token: admin)
                #expect(everything.json?["items"]?.array?.count == 20, "parameters without a value are ignored")
                #expect(everything.json?["next_cursor"] == .null, "the last page's next_cursor is null")
                try await check.call("GET", "/v1/articles?q=gateway+commit", 200, token: admin)
                try await check.call("GET", "/v1/articles?limit=5000", 400, token: admin)
                try await check.call("GET", "/v1/articles?sort=id", 400, token: admin)
                try await check.call("GET", "/v1/articles?limit=2&limit=3", 400, token: admin)
                try await check.call("GET", "/v1/articles?cursor=not!a!cursor", 400, token: admin)
                try await check.call("GET", "/v1/articles", 401, token: "not-a-jwt")

                // POST /v1/{collection}.
                let created = try await check.call("POST", "/v1/notes", 201, token: alice, body: #"{"text":"alice's note"}"#)
                let noteID = try #require(created.json?["id"]?.string)
                #expect(created.response.headers["location"] == "/v1/notes/\(noteID)")
                #expect(created.response.headers["etag"] == "\"\(created.json?["version"]?.int ?? -1)\"")
                #expect(created.json?["owner"] == .string("alice") && created.json?["data"] == .object(["text": .string("alice's note")]))
                #expect(created.response.headers["ratelimit-policy"] == #""user";q=200;w=60"#, "a token without the role admin: the user tier")
                try await check.call("POST", "/v1/notes", 401, body: "{}")
                try await check.call("POST", "/v1/notes", 403, token: reader, body: "{}")
                try await check.call("POST", "/v1/notes", 400, token: alice, body: "not json")
                try await check.call("POST", "/v1/notes", 400, token: alice, body: "[1, 2]")
                let huge = String(repeating: " ", count: 1_052_673)
                try await check.call("POST", "/v1/notes", 413, body: huge)

                // GET /v1/mine/{collection}.
                let mine = try await check.call("GET", "/v1/mine/notes", 200, token: alice)
                #expect(mine.json?["items"]?.array?.compactMap { $0["id"]?.string } == [noteID])
                try await check.call("HEAD", "/v1/mine/notes", 200, token: alice)
                try await check.call("GET", "/v1/mine/notes", 401)
                try await check.call("GET", "/v1/mine/notes", 401, token: "not-a-jwt")
                try await check.call("GET", "/v1/mine/notes?sort=id", 400, token: alice)

                // PUT /v1/{collection}/{id}.
                let etag3 = try #require(try await check.call("GET", "/v1/articles/doc-000003", 200, token: admin).response.headers["etag"])
                let replaced = try await check.call("PUT", "/v1/articles/doc-000003", 200, token: admin, headers: [("If-Match", etag3)], body: #"{"title":"rewritten"}"#)
                #expect(replaced.json?["data"] == .object(["title": .string("rewritten")]) && replaced.json?["owner"] == .string("seed"), "replacing keeps the owner")
                #expect(replaced.response.headers["etag"] == "\"\(replaced.json?["version"]?.int ?? -1)\"")
                try await check.call("PUT", "/v1/articles/doc-000003", 412, token: admin, headers: [("If-Match", etag3)], body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 400, token: admin, headers: [("If-Match", "7")], body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 412, token: admin, headers: [("If-Match", "\"abc\"")], body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 403, token: alice, body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 403, token: reader, body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 401, body: "{}")
                try await check.call("PUT", "/v1/articles/doc-000003", 400, token: admin, body: "42")
                try await check.call("PUT", "/v1/articles/doc-000003", 413, token: admin, body: huge)
                let put = try await check.call("PUT", "/v1/notes/spec-note", 201, token: admin, headers: [("If-None-Match", "*")], body: #"{"n":1}"#)
                #expect(put.response.headers["location"] == "/v1/notes/spec-note" && put.json?["owner"] == .string("admin"))
                let noteETag = try #require(put.response.headers["etag"])
                try await check.call("PUT", "/v1/notes/spec-note", 412, token: admin, headers: [("If-None-Match", "*")], body: "{}")
                try await check.call("PUT", "/v1/notes/never-written", 412, token: admin, headers: [("If-Match", "\"5\"")], body: "{}")
                try await check.call("PUT", "/v1/notes/\(noteID)", 200, token: alice, body: #"{"text":"edited"}"#)

                // DELETE /v1/{collection}/{id}.
                try await check.call("DELETE", "/v1/notes/spec-note", 412, token: admin, headers: [("If-Match", "\"1\"")])
                try await check.call("DELETE", "/v1/notes/spec-note", 412, token: admin, headers: [("If-Match", "W/\(noteETag)")])
                try await check.call("DELETE", "/v1/articles/doc-000004", 403, token: alice)
                try await check.call("DELETE", "/v1/articles/doc-000004", 403, token: reader)
                try await check.call("DELETE", "/v1/articles/doc-000004", 401)
                try await check.call("DELETE", "/v1/notes/spec-note", 204, token: admin, headers: [("If-Match", noteETag)])
                try await check.call("DELETE", "/v1/notes/spec-note", 404, token: admin)
                try await check.call("DELETE", "/v1/notes/spec-note", 404, token: admin, headers: [("If-Match", noteETag)])
                try await check.call("DELETE", "/v1/notes/spec-note", 404, token: alice)
                try await check.call("GET", "/v1/notes/spec-note", 404, token: admin)

                // Paths without a route, and methods a path does not serve.
                let allowed: [(String, String, String)] = [
                    ("PATCH", "/v1/articles/doc-000001", "DELETE, GET, HEAD, PUT"), ("POST", "/v1/articles/doc-000001", "DELETE, GET, HEAD, PUT"),
                    ("DELETE", "/v1/articles", "GET, HEAD, POST"), ("PUT", "/v1/mine/notes", "GET, HEAD"),
                ]
                for (method, target, allow) in allowed {
                    let answer = try await check.call(method, target, 405, body: method == "DELETE" ? nil : "{}", component: "MethodNotAllowed")
                    #expect(answer.response.headers["allow"] == allow, "\(method) \(target)")
                }
                try await check.call("GET", "/v2/articles/doc-000001", 404, component: "NotFound", limiterAsked: false)
                try await check.call("GET", "/v1/articles/doc-000001/", 404, component: "NotFound", limiterAsked: false)
                try await check.call("HEAD", "/v2/articles/doc-000001", 404, component: "NotFound", limiterAsked: false)

                // 429, public tier: 20 a minute per client address.
                let crawler = "198.51.100.20"
                var crawled: [Int] = []
                while crawled.last != 429, crawled.count < 30 {
                    crawled.append(try await check.send("GET", "/v1/articles/doc-000002", from: crawler).status)
                }
                #expect(crawled.count >= 21 && crawled.dropLast().allSatisfy { $0 == 200 } && crawled.last == 429, "\(crawled)")
                try await check.call("GET", "/v1/articles/doc-000002", 429, from: crawler)
                try await check.call("HEAD", "/v1/articles/doc-000002", 429, from: crawler)
                try await check.call("GET", "/v1/articles?limit=2", 429, from: crawler)

                // 429 before any signature work, for an address that sent too many bad tokens (auth.failure_policy).
                let attacker = "203.0.113.7"
                var refused: [Int] = []
                while refused.last != 429, refused.count < 15 {
                    refused.append(try await check.send("GET", "/v1/articles/doc-000001", token: "not-a-jwt", from: attacker).status)
                }
                #expect(refused.dropLast().allSatisfy { $0 == 401 } && refused.last == 429, "\(refused)")
                try await check.call("GET", "/v1/articles/doc-000001", 429, token: "not-a-jwt", from: attacker, limiterAsked: false)
                try await check.call("GET", "/v1/articles", 429, token: "not-a-jwt", from: attacker, limiterAsked: false)

                // 429, user tier: alice spends the rest of her 200 a minute; then every operation she calls is refused.
                var spent = 0
                while spent < 400 {
                    let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                        for _ in 0..<16 { group.addTask { try await system.edge(0, "GET", "/v1/mine/notes", token: alice).status } }
                        return try await group.reduce(into: [Int]()) { $0.append($1) }
                    }
                    spent += statuses.count
                    if statuses.contains(429) { break }
                }
                try await check.call("GET", "/v1/mine/notes", 429, token: alice)
                try await check.call("GET", "/v1/articles/doc-000001", 429, token: alice)
                try await check.call("POST", "/v1/notes", 429, token: alice, body: "{}")
                try await check.call("PUT", "/v1/notes/\(noteID)", 429, token: alice, body: "{}")
                try await check.call("DELETE", "/v1/notes/\(noteID)", 429, token: alice)

                // 503: the data service is down; nothing below is cached.
                // In process, a crash is the data service's group cancelled: its connections drop, nothing drains.
                await system.data.cancel()
                let outage: [(method: String, target: String, body: String?)] = [
                    ("GET", "/v1/articles/doc-000010", nil), ("HEAD", "/v1/articles/doc-000011", nil), ("GET", "/v1/articles?limit=3", nil),
                    ("GET", "/v1/mine/notes?limit=3", nil), ("POST", "/v1/notes", "{}"), ("PUT", "/v1/notes/outage", "{}"), ("DELETE", "/v1/notes/outage", nil),
                ]
                let answers = try await withThrowingTaskGroup(of: (Int, HTTPProbeResponse).self) { group in
                    for (index, request) in outage.enumerated() {
                        group.addTask {
                            (index, try await system.edge(0, request.method, request.target, token: admin, headers: [("X-Forwarded-For", DescriptionCheck.client)], body: request.body))
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
        }


        /// A password-grant token for the bootstrapped admin with the scope `read` alone.
        static func readOnlyToken(_ system: GatehouseSystem) async throws -> String {
            let body = "grant_type=password&username=admin&password=\(systemAdminPassword)&scope=read"
            let response = try await system.issuer("POST", "/oauth/token", body: body)
            return try #require(try DocumentTree.json(response.body)["access_token"]?.string, "\(response.body)")
        }
    }
}

// MARK: - Checking answers against the description

/// An answer and its body read as JSON (`nil` when it has none or is not described as JSON).
private struct Answer {
    var response: HTTPProbeResponse
    var json: DocumentTree?
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

    let description: OpenAPIDescription
    let system: GatehouseSystem
    /// `METHOD /template` to the statuses it answered (`HEAD` under its own name).
    private(set) var observed: [String: Set<Int>] = [:]

    init(_ description: OpenAPIDescription, _ system: GatehouseSystem) {
        self.description = description
        self.system = system
    }

    /// Sends a request, unchecked.
    func send(_ method: String, _ target: String, token: String? = nil, headers: [(String, String)] = [], body: String? = nil, from client: String = DescriptionCheck.client) async throws -> HTTPProbeResponse {
        try await self.system.edge(0, method, target, token: token, headers: headers + [("X-Forwarded-For", client)], body: body)
    }

    /// Sends a request and checks its answer (see ``verify(_:_:_:_:component:limiterAsked:sourceLocation:)``).
    @discardableResult
    func call(
        _ method: String, _ target: String, _ status: Int, token: String? = nil, headers: [(String, String)] = [], body: String? = nil,
        from client: String = DescriptionCheck.client, component: String? = nil, limiterAsked: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Answer {
        let response = try await self.send(method, target, token: token, headers: headers, body: body, from: client)
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
    ) -> DocumentTree? {
        var problems: [String] = []
        if response.status != status { problems.append("expected \(status), got \(response.status) \(response.body.prefix(300))") }
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        var described: DocumentTree?
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
        var json: DocumentTree?
        if let described {
            let asked = limiterAsked ?? !([401, 405, 413].contains(response.status) || (response.status == 403 && response.headers["www-authenticate"] != nil))
            json = self.check(response, against: described, head: method == "HEAD", limiterAsked: asked, problems: &problems)
        }
        #expect(problems.isEmpty, Comment(rawValue: "\(method) \(target) → \(response.status):\n  " + problems.joined(separator: "\n  ")), sourceLocation: sourceLocation)
        return json
    }

    private func check(_ response: HTTPProbeResponse, against object: DocumentTree, head: Bool, limiterAsked: Bool, problems: inout [String]) -> DocumentTree? {
        let described: DocumentTree
        do { described = try self.description.resolve(object) } catch {
            problems.append("\(error)")
            return nil
        }
        var json: DocumentTree?
        // The body and its media type.
        let contentType = response.headers["content-type"].map { $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }
        if let content = described["content"]?.object, !content.isEmpty {
            if let contentType, let media = content[contentType] {
                if head {
                    if !response.body.isEmpty { problems.append("a HEAD answer has a body: \(response.body.prefix(200))") }
                } else {
                    do {
                        let value = try DocumentTree.json(response.body)
                        json = value
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
                let typed: DocumentTree = integer ? (Int(value).map(DocumentTree.int) ?? .string(value)) : .string(value)
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
