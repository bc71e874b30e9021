import Foundation
import GatehouseDataAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

extension GatehouseHTTPSystemTests {
    /// Documents near the data service's body limit, through an edge (docs/security.md, 6.1).
    @Suite(.timeLimit(.minutes(3)))
    struct LargeDocumentSystemTests {
        /// A `GET` that may take longer than `httpRequest`'s 5 s of silence: a debug build on a loaded machine
        /// needs seconds to move a page of megabytes through the edge.
        static func patientGet(port: Int, _ path: String) async throws -> (status: Int, body: String) {
            let response = try await onThreadOfItsOwn {
                let connection = try RawTCPConnection(port: port)
                try connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return connection.receive(timeout: .seconds(60)) { _ in false }
            }
            let end = try #require(response.range(of: "\r\n\r\n"), "no answer: \(response.prefix(200))")
            let status = try #require(Int(response.split(separator: " ", maxSplits: 2).dropFirst().first ?? ""))
            return (status, String(response[end.upperBound...]))
        }

        static func page(_ body: String) throws -> (ids: [String], cursor: String?) {
            let page = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let items = try #require(page["items"] as? [[String: Any]])
            return (items.compactMap { $0["id"] as? String }, page["next_cursor"] as? String)
        }

        @Test func aListingOfLargeDocumentsIsAPartialPageWithACursorAndTheEdgeGoesOnServingOthers() async throws {
            // Reading megabytes takes a debug build on a loaded machine longer than the default second.
            try await GatehouseSystem.run(documents: 5, edgeEnvironment: ["EDGE_DATA_CALL_TIMEOUT_MS": "30000"]) { system in
                let port = system.edgePorts[0]
                // Five bodies of about 900 KB: 4.5 MB together, more than a 4 MiB frame holds.
                try await withRPCClients(ports: [system.dataRPCPort], secret: systemSecret) { clients in
                    for index in 1...5 {
                        var put = Gatehouse_Data_PutRequest()
                        put.collection = "big"
                        put.id = "big-\(index)"
                        put.body = #"{"blob":""# + String(repeating: "x", count: 900_000) + #""}"#
                        _ = try await clients[0].call(DataMethods.put, put, timeout: .seconds(30))
                    }
                }

                // Anonymous, as anyone may list: the listing and, at the same time, reads of other documents.
                async let listing = Self.patientGet(port: port, "/v1/big")
                async let others = Task.detached {
                    var statuses: [Int] = []
                    for id in 1...5 { statuses.append(try await system.edge(0, "GET", "/v1/articles/doc-00000\(id)").status) }
                    return statuses
                }.value
                let first = try await listing
                #expect(first.status == 200, "\(first.status) \(first.body.prefix(300))")
                let firstPage = try Self.page(first.body)
                #expect(firstPage.ids == ["big-1", "big-2", "big-3", "big-4"])
                #expect(firstPage.cursor == "big-4")
                #expect(try await others == [200, 200, 200, 200, 200])

                let rest = try await Self.patientGet(port: port, "/v1/big?cursor=big-4")
                #expect(rest.status == 200, "\(rest.status) \(rest.body.prefix(300))")
                let restPage = try Self.page(rest.body)
                #expect(restPage.ids == ["big-5"])
                #expect(restPage.cursor == nil)
            }
        }
    }
}
