import DataServiceCore
import GatehouseDataAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// ``DataClient`` against the data service wired by `DataService.make`, run in process on a real SQLite file
/// and a real redis-server: its documents and pages, and the failures its callers see as ``DataClientError``s.
@Suite struct DataClientTests {
    static let secret = "data-client-secret-0123456789"

    func withDataService(_ body: @Sendable (DataClient) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let yaml = """
            rpc: {port: 0, secret: \(Self.secret)}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            storage: {path: \(folder.path("db/documents.sqlite"))}
            """
        try await withInProcessService(DataService.self, yaml: yaml) { data in
            try await withRPCClients(ports: [try await data.rpcPort()], secret: Self.secret) { clients in
                try await body(DataClient(rpc: clients[0]))
            }
        }
    }

    /// The reason `call` failed for; records an issue when it did not fail with a ``DataClientError``.
    static func reason(_ call: () async throws -> some Sendable) async -> DataFailure? {
        let error = await #expect(throws: DataClientError.self) { _ = try await call() }
        return error?.reason
    }

    @Test func writesAreReadBackAndConditionalOnTheirVersion() async throws {
        try await self.withDataService { data in
            let created = try await data.put(collection: "articles", id: "a1", body: #"{"title":"one"}"#, owner: "alice")
            #expect(created.created && created.version == 1 && created.document.owner == "alice")
            let read = try await data.get(collection: "articles", id: "a1")
            #expect(read.body == #"{"title":"one"}"# && read.version == 1 && read.createdAtMilliseconds > 0)
            let replaced = try await data.put(collection: "articles", id: "a1", body: #"{"title":"two"}"#, ifVersion: 1)
            #expect(!replaced.created && replaced.version == 2 && replaced.document.owner == "alice", "a replacement keeps the owner")
            #expect(await Self.reason { try await data.put(collection: "articles", id: "a1", body: "{}", ifVersion: 1) } == .preconditionFailed)
            #expect(await Self.reason { try await data.put(collection: "articles", id: "a1", body: "{}", ifVersion: 0) } == .preconditionFailed)
            #expect(await Self.reason { try await data.delete(collection: "articles", id: "a1", ifVersion: 1) } == .preconditionFailed)
            _ = try await data.delete(collection: "articles", id: "a1", ifVersion: 2)
            #expect(await Self.reason { try await data.get(collection: "articles", id: "a1") } == .notFound)
            #expect(await Self.reason { try await data.put(collection: "articles", id: "a2", body: "not json") } == .invalid)
        }
    }

    @Test func createsChooseTheIdAndListingsPageWithACursor() async throws {
        try await self.withDataService { data in
            let first = try await data.create(collection: "notes", body: #"{"text":"apple pie"}"#, owner: "alice")
            #expect(first.created && !first.document.id.isEmpty)
            _ = try await data.create(collection: "notes", body: #"{"text":"banana bread"}"#, owner: "bob")
            _ = try await data.create(collection: "notes", body: #"{"text":"cherry tart"}"#, owner: "alice")
            let page = try await data.list(DataListQuery(collection: "notes", limit: 2))
            #expect(page.documents.count == 2)
            let cursor = try #require(page.nextCursor)
            let rest = try await data.list(DataListQuery(collection: "notes", limit: 2, cursor: cursor))
            #expect(rest.documents.count == 1 && rest.nextCursor == nil)
            #expect(Set((page.documents + rest.documents).map(\.id)).count == 3)
            #expect(try await data.list(DataListQuery(collection: "notes", owner: "alice")).documents.count == 2)
            #expect(try await data.list(DataListQuery(collection: "notes", text: "banana")).documents.map(\.owner) == ["bob"])
        }
    }

    @Test func aDataServiceNobodyListensForIsUnreachable() async throws {
        try await withUnreachableRPCClient(secret: Self.secret) { rpc in
            #expect(await Self.reason { try await DataClient(rpc: rpc).get(collection: "articles", id: "a1") } == .unreachable)
        }
    }
}
