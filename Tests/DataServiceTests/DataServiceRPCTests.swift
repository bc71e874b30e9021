import Foundation
import GatehouseDataAPI
import GatehouseRPC
import GatehouseTestSupport
import SwiftProtobuf
import Testing

/// The data service's RPC methods end to end: optimistic concurrency, listing, search, bad input.
///
/// The service runs in process (``withDataService(folder:redisPort:environment:_:)``), but for the test of
/// what only the executable does: its exit status on a bad configuration and on `SIGTERM`.
@Suite(.timeLimit(.minutes(2)))
struct DataServiceRPCTests {
    @Test func thousandConcurrentConditionalWritersGetExactlyOneWinnerPerVersion() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try await withDataService(folder: folder, redisPort: redis.port) { service in
            try await service.withClient { client in
                let created = try await client.put("counters", "c", #"{"writer":-1}"#, ifVersion: 0)
                // Every writer reads the current version and writes conditionally on it; losers get CONFLICT.
                let outcomes = try await withThrowingTaskGroup(of: (read: Int64, won: Int64?).self) { group in
                    for writer in 0..<1_000 {
                        group.addTask {
                            let current = try await client.get("counters", "c").version
                            do {
                                let written = try await client.put("counters", "c", #"{"writer":\#(writer)}"#, ifVersion: current)
                                return (current, written.version)
                            } catch let error as RPCError where error.code == .conflict {
                                return (current, nil)
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let winners = outcomes.filter { $0.won != nil }
                // At most one winner per version read, and every win moved the version on by exactly one write.
                #expect(Set(winners.map(\.read)).count == winners.count, "two writers won with the same ifVersion")
                let final = try await client.get("counters", "c")
                #expect(final.version == created.version + Int64(winners.count), "every acknowledged write is in the history, none lost")
                #expect(winners.map(\.won!).max() == final.version)
                #expect(outcomes.count == 1_000)
            }
        }
    }

    @Test func listPagesThroughEverythingOnceAndSearchFollowsWritesAndDeletes() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try await withDataService(folder: folder, redisPort: redis.port) { service in
            try await service.withClient { client in
                for index in 0..<25 {
                    _ = try await client.put("books", String(format: "b%02d", index), #"{"title":"volume \#(index)","genre":"\#(index % 2 == 0 ? "harbor" : "lantern")"}"#)
                }
                var seen: [String] = []
                var request = Gatehouse_Data_ListRequest()
                request.collection = "books"
                request.limit = 10
                repeat {
                    let page = try await client.call(DataMethods.list, request)
                    seen += page.documents.map(\.id)
                    request.cursor = page.nextCursor
                } while !request.cursor.isEmpty
                #expect(seen == (0..<25).map { String(format: "b%02d", $0) })

                var search = Gatehouse_Data_ListRequest()
                search.collection = "books"
                search.q = "harbor"
                #expect(try await client.call(DataMethods.list, search).documents.count == 13)
                var delete = Gatehouse_Data_DeleteRequest()
                delete.collection = "books"
                delete.id = "b00"
                _ = try await client.call(DataMethods.delete, delete)
                _ = try await client.put("books", "b02", #"{"title":"renamed","genre":"quota"}"#)
                let after = try await client.call(DataMethods.list, search).documents.map(\.id)
                #expect(after.count == 11 && !after.contains("b00") && !after.contains("b02"))
            }
        }
    }

    @Test func badInputGetsTypedErrorsNamingTheFieldAndTheServiceKeepsServing() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try await withDataService(folder: folder, redisPort: redis.port, environment: ["DATA_COLLECTIONS": "posts,users", "DATA_STORAGE_MAX_BODY_BYTES": "1024"]) { service in
            try await service.withClient { client in
                let cases: [(collection: String, id: String, body: String, code: RPCError.Code, mentions: String)] = [
                    ("posts", "bad id!", #"{"a":1}"#, .invalidArgument, "id"),
                    ("posts", String(repeating: "x", count: 129), #"{"a":1}"#, .invalidArgument, "id"),
                    ("posts", "p1", "[1,2,3]", .invalidArgument, "body"),
                    ("posts", "p1", "not json", .invalidArgument, "body"),
                    ("posts", "p1", #"{"big":"\#(String(repeating: "x", count: 2000))"}"#, .invalidArgument, "1024"),
                    ("postz", "p1", #"{"a":1}"#, .notFound, "did you mean 'posts'"),
                ]
                for testCase in cases {
                    let error = await #expect(throws: RPCError.self) {
                        try await client.put(testCase.collection, testCase.id, testCase.body)
                    }
                    #expect(error?.code == testCase.code, "\(testCase)")
                    #expect(error?.message.contains(testCase.mentions) == true, "\(error?.message ?? "")")
                }
                let missing = await #expect(throws: RPCError.self) { try await client.get("posts", "nope") }
                #expect(missing?.code == .notFound)

                // A payload that is not a PutRequest at all.
                let garbage = RPCMethod<Google_Protobuf_BytesValue, Gatehouse_Data_WriteResponse>("data.Put")
                var bytes = Google_Protobuf_BytesValue()
                bytes.value = Data([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
                let malformed = await #expect(throws: RPCError.self) { try await client.call(garbage, bytes) }
                #expect(malformed?.code == .invalidArgument)

                let fine = try await client.put("posts", "p1", #"{"a":1}"#)
                #expect(fine.version == 1, "still serving, and no failed write consumed a version")
            }
        }
    }

    @Test func seedAndOnlineBackup() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try await withDataService(folder: folder, redisPort: redis.port) { service in
            let environment = ["DATA_STORAGE_PATH": folder.path("db/documents.sqlite")]
            let seed = try ServiceProcess.start(product: "data-service", arguments: ["seed", "--count", "300"], environment: environment, logPath: folder.path("seed.log"))
            #expect(try await seed.waitForExit(timeout: .seconds(60)) == .exited(0), "\(seed.log)")
            #expect(seed.log.contains("seeded 300 documents"))

            let backup = try ServiceProcess.start(
                product: "data-service",
                arguments: ["backup", folder.path("copy.sqlite")],
                environment: environment,
                logPath: folder.path("backup.log")
            )
            #expect(try await backup.waitForExit(timeout: .seconds(60)) == .exited(0), "\(backup.log)")

            // The copy is a working database: a second service on it sees the seeded documents.
            let document = try await withDataService(folder: folder, redisPort: redis.port, environment: ["DATA_STORAGE_PATH": folder.path("copy.sqlite")]) { copy in
                try await copy.withClient { try await $0.get("articles", "doc-000300") }
            }
            #expect(document.body.contains(#""n":300"#))
            let original = try await service.withClient { try await $0.get("articles", "doc-000001") }
            #expect(original.owner == "seed")
        }
    }

    @Test func badConfigurationExitsBeforeListeningAndSIGTERMExitsCleanly() async throws {
        let folder = try TestFolder()
        let bad = try ServiceProcess.start(
            product: "data-service",
            environment: ["DATA_RPC_SECRET": dataSecret, "DATA_COLLECTIONS": "posts,bad name", "DATA_STORAGE_PATH": folder.path("x.sqlite")],
            logPath: folder.path("bad.log")
        )
        #expect(try await bad.waitForExit(timeout: .seconds(20)) == .exited(78))
        #expect(bad.log.contains("collections") && bad.log.contains("bad name"), "\(bad.log)")

        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let service = try await DataServiceProcess(folder: folder, redisPort: redis.port)
        service.process.send(signal: SIGTERM)
        #expect(try await service.process.waitForExit(timeout: .seconds(10)) == .exited(0))
    }
}
