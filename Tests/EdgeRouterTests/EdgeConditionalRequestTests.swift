import Foundation
import GatehouseTestSupport
import Synchronization
import Testing

extension GatehouseSystemTests {
    /// `If-Match` and `If-None-Match` as RFC 9110 §13 defines them, and owner-only writes that never overwrite
    /// a document someone else recreated (docs/security.md 6.13), against the real system (``GatehouseSystem``).
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeConditionalRequestTests {
        @Test func readsAnswer304Or412AsTheRFCSaysAndOnlyAMalformedFieldIs400() async throws {
            try await GatehouseSystem.run { system in
                let token = try await system.adminToken()
                let read = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token)
                let etag = try #require(read.headers["etag"])
                let cases: [(field: String, value: String, status: Int)] = [
                    ("If-None-Match", etag, 304), ("If-None-Match", "W/\(etag)", 304), ("If-None-Match", "\"abc\", \(etag)", 304),
                    ("If-None-Match", "*", 304), ("If-None-Match", "\"abc\"", 200), ("If-None-Match", "W/\"abc\"", 200),
                    ("If-Match", etag, 200), ("If-Match", "*", 200), ("If-Match", "\"abc\"", 412), ("If-Match", "W/\(etag)", 412),
                    ("If-Match", "\"1\", \"2\", \(etag)", 200), ("If-Match", "abc", 400), ("If-None-Match", "\"unterminated", 400),
                ]
                for (index, (field, value, status)) in cases.enumerated() {
                    // Once from the data service (uncached: a query of its own), once from the cache.
                    for path in ["/v1/articles/doc-000001?case=\(index)", "/v1/articles/doc-000001"] {
                        let answer = try await system.edge(0, "GET", path, token: token, headers: [(field, value)])
                        #expect(answer.status == status, "GET \(path) with \(field): \(value) → \(answer.status) \(answer.body)")
                        if status != 200 { #expect(!answer.body.contains("\"data\"")) }
                        if status == 304 { #expect(answer.headers["etag"] == etag) }
                        if status == 412 || status == 400 { #expect(answer.headers["content-type"] == "application/problem+json") }
                    }
                }
                // If-Match is evaluated first (RFC 9110 §13.2.2).
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token, headers: [("If-Match", "\"abc\""), ("If-None-Match", etag)]).status == 412)
                // Preconditions apply only to what would otherwise be a 2xx (§13.2.1).
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-999999", token: token, headers: [("If-Match", "*")]).status == 404)
                // A listing exists and has no entity tag.
                #expect(try await system.edge(0, "GET", "/v1/articles?limit=2", token: token, headers: [("If-None-Match", "*")]).status == 304)
                #expect(try await system.edge(0, "GET", "/v1/articles?limit=2", token: token, headers: [("If-None-Match", etag)]).status == 200)
                #expect(try await system.edge(0, "GET", "/v1/articles?limit=2", token: token, headers: [("If-Match", etag)]).status == 412)
            }
        }

        @Test func writesAreConditionalOnEveryListedTagAndAWellFormedUnknownTagIs412() async throws {
            try await GatehouseSystem.run { system in
                let token = try await system.adminToken()
                func put(_ id: String, _ headers: [(String, String)], _ title: String) async throws -> HTTPProbeResponse {
                    try await system.edge(0, "PUT", "/v1/notes/\(id)", token: token, headers: headers, body: #"{"title":"\#(title)"}"#)
                }
                // Create only if absent: If-None-Match: *.
                let created = try await put("n1", [("If-None-Match", "*")], "first")
                #expect(created.status == 201)
                let etag = try #require(created.headers["etag"])
                #expect(try await put("n1", [("If-None-Match", "*")], "again").status == 412, "it exists now")
                #expect(try await put("n2", [("If-Match", "*")], "x").status == 412, "If-Match: * needs a current document")
                #expect(try await put("n2", [("If-Match", "\"0\"")], "x").status == 412, "no tag matches a document that does not exist")

                for value in ["\"abc\"", "W/\(etag)", "\"1\", \"2\"", "\"\""] {
                    let answer = try await put("n1", [("If-Match", value)], "lost")
                    #expect(answer.status == 412, "If-Match: \(value) → \(answer.status) \(answer.body)")
                    #expect(answer.headers["content-type"] == "application/problem+json")
                }
                #expect(try await put("n1", [("If-Match", "abc")], "lost").status == 400, "only a malformed field is 400")
                #expect(try await put("n1", [("If-None-Match", etag)], "lost").status == 412, "If-None-Match false on a write")
                #expect(try await put("n1", [("If-Match", etag), ("If-None-Match", etag)], "lost").status == 412, "both are evaluated")
                let listed = try await put("n1", [("If-Match", "\"1\", \(etag), \"abc\"")], "second")
                #expect(listed.status == 200, "one listed tag is current: \(listed.body)")
                let anyCurrent = try await put("n1", [("If-Match", "*")], "third")
                #expect(anyCurrent.status == 200)
                #expect(try await put("n1", [("If-None-Match", "\"abc\", \(etag)")], "fourth").status == 200, "no listed tag is current")

                let current = try #require(try await system.edge(0, "GET", "/v1/notes/n1", token: token).headers["etag"])
                #expect(try await system.edge(0, "DELETE", "/v1/notes/n1", token: token, headers: [("If-Match", "\"abc\"")]).status == 412)
                #expect(try await system.edge(0, "DELETE", "/v1/notes/n1", token: token, headers: [("If-Match", "\"7\", \(current)")]).status == 204)
                #expect(try await system.edge(0, "DELETE", "/v1/notes/n1", token: token, headers: [("If-Match", "*")]).status == 404, "a missing document is 404")
                #expect(try await system.edge(0, "GET", "/v1/notes/n1", token: token).status == 404)
                // POST: the collection's listing exists and has no entity tag.
                #expect(try await system.edge(0, "POST", "/v1/notes", token: token, headers: [("If-None-Match", "*")], body: "{}").status == 412)
                #expect(try await system.edge(0, "POST", "/v1/notes", token: token, headers: [("If-Match", "*")], body: "{}").status == 201)
            }
        }

        /// Alice owns a note. Between the edge's ownership check and its write, the admin deletes it and creates
        /// it again as their own: alice's write, conditioned on the version the check saw, must not overwrite
        /// the admin's note, whatever version her `If-Match` names. The write is held at a relay between the
        /// edge and the data service while the admin's changes go through another edge.
        @Test func aDocumentRecreatedByAnotherUserBetweenTheOwnerCheckAndTheWriteIsNeverOverwritten() async throws {
            try await GatehouseSystem.run { system in
                try await system.addUser("alice", password: "alice-password-1")
                let alice = try await system.token(user: "alice", password: "alice-password-1")
                let admin = try await system.adminToken()
                let gate = try RPCFrameGate(target: system.dataRPCPort)
                defer { gate.stop() }
                // The held write waits for the admin's two writes through another edge: on a busy machine that can
                // take longer than the default 1 s call timeout, which would answer 503 instead.
                let gated = try await system.startEdge(
                    name: "edge-gated", environment: ["EDGE_DATA_PORT": "\(gate.port)", "EDGE_DATA_CALL_TIMEOUT_MS": "15000"]
                )
                defer { gated.process.stop() }

                // (method, held RPC, alice's If-Match relative to the version she checked: nil for none)
                let attempts: [(method: String, rpc: String, ifMatchAhead: Int64?)] = [
                    ("PUT", "data.Put", 2), ("PUT", "data.Put", nil), ("DELETE", "data.Delete", 2), ("DELETE", "data.Delete", nil),
                ]
                for (index, attempt) in attempts.enumerated() {
                    let path = "/v1/notes/race-\(index)"
                    let owned = try await system.edge(0, "PUT", path, token: alice, body: #"{"by":"alice"}"#)
                    try #require(owned.status == 201, "alice creates \(path): \(owned.body)")
                    let checked = try #require(Int64(owned.headers["etag"]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) ?? ""))
                    // After the admin's delete (checked + 1) and create (checked + 2), the note has version checked + 2.
                    let headers = attempt.ifMatchAhead.map { [("If-Match", "\"\(checked + $0)\"")] } ?? []

                    gate.hold(method: attempt.rpc)
                    let port = gated.port
                    let body = attempt.method == "PUT" ? #"{"by":"alice, overwriting"}"# : nil
                    let answered = AnsweredFlag()
                    let write = Task.detached {
                        defer { answered.value.withLock { $0 = true } }
                        return try await httpRequestOffPool(
                            port: port, method: attempt.method, path: path, headers: [("Authorization", "Bearer \(alice)"), ("Content-Type", "application/json")] + headers,
                            body: body.map { Array($0.utf8) }
                        )
                    }
                    // Until alice's write is held, or answered without being sent.
                    let waitingSince = ContinuousClock.now
                    while !gate.isHolding, !answered.value.withLock({ $0 }), ContinuousClock.now - waitingSince < .seconds(10) {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    #expect(try await system.edge(0, "DELETE", path, token: admin).status == 204)
                    let recreated = try await system.edge(0, "PUT", path, token: admin, headers: [("If-None-Match", "*")], body: #"{"by":"admin"}"#)
                    try #require(recreated.status == 201 && recreated.headers["etag"] == "\"\(checked + 2)\"", "the admin's note has version \(checked + 2): \(recreated.headers)")
                    gate.release()

                    let answer = try await write.value
                    let expected = attempt.ifMatchAhead == nil ? 409 : 412
                    #expect(answer.status == expected, "\(attempt.method) \(headers) → \(answer.status) \(answer.body)")
                    let note = try await system.edge(0, "GET", path, token: admin)
                    #expect(note.status == 200, "\(attempt.method) \(headers): the admin's note is still there")
                    #expect(note.body.contains(#""owner":"admin""#) && note.body.contains(#""data":{"by":"admin"}"#), "\(attempt.method) \(headers): \(note.body)")
                }
            }
        }

        @Test func anOwnersIfMatchThatIsNotTheVersionTheEdgeCheckedIs412AndWritesNothing() async throws {
            try await GatehouseSystem.run { system in
                try await system.addUser("alice", password: "alice-password-1")
                let alice = try await system.token(user: "alice", password: "alice-password-1")
                let owned = try await system.edge(0, "PUT", "/v1/notes/mine", token: alice, body: #"{"v":1}"#)
                let etag = try #require(owned.headers["etag"])
                for value in ["\"abc\"", "W/\(etag)", "\"0\""] {
                    #expect(try await system.edge(0, "PUT", "/v1/notes/mine", token: alice, headers: [("If-Match", value)], body: #"{"v":2}"#).status == 412, "\(value)")
                }
                #expect(try await system.edge(0, "PUT", "/v1/notes/mine", token: alice, headers: [("If-Match", etag)], body: #"{"v":3}"#).status == 200)
                #expect(try await system.edge(0, "GET", "/v1/notes/mine", token: alice).body.contains(#""data":{"v":3}"#))
            }
        }
    }
}

/// Whether a request running in another task has been answered.
private final class AnsweredFlag: Sendable {
    let value = Mutex(false)
}
