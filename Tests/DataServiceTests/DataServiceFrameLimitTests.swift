import Foundation
import GatehouseDataAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// Every answer of the data service fits the frame its caller accepts: listings of large documents come in
/// shorter pages, a write the caller could not receive back is not made, and a body limit that no frame
/// could carry is refused at start (docs/security.md, 6.1).
///
/// The service runs as a child process here: it moves megabytes through a debug build, which in the test
/// process would hold the few cooperative threads every other test's in-process services run on.
@Suite(.timeLimit(.minutes(3)))
struct DataServiceFrameLimitTests {
    /// A JSON object of about 900 KB: five of them (4.5 MB) are more than a 4 MiB frame holds.
    static let largeBody = #"{"blob":""# + String(repeating: "x", count: 900_000) + #""}"#

    static func listing(_ collection: String, cursor: String = "") -> Gatehouse_Data_ListRequest {
        var request = Gatehouse_Data_ListRequest()
        request.collection = collection
        request.cursor = cursor
        return request
    }

    @Test func aListingOfLargeDocumentsComesInPagesThatFitAndCallsBesideItAreAnswered() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let service = try await DataServiceProcess(folder: folder, redisPort: redis.port)
        try await service.endpoint.withClient(maximumFrameBytes: 4 * 1024 * 1024) { client in
            _ = try await client.put("articles", "a1", #"{"title":"small"}"#)
            for index in 1...5 {
                _ = try await client.put("big", "big-\(index)", Self.largeBody)
            }
            // The reads beside the listing share its one connection.
            let beside = Task {
                try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 { group.addTask { try await client.get("articles", "a1").id } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let first = try await client.call(DataMethods.list, Self.listing("big"))
            #expect(first.documents.map(\.id) == ["big-1", "big-2", "big-3", "big-4"])
            #expect(first.nextCursor == "big-4")
            let second = try await client.call(DataMethods.list, Self.listing("big", cursor: first.nextCursor))
            #expect(second.documents.map(\.id) == ["big-5"])
            #expect(second.nextCursor.isEmpty)
            #expect(second.documents.first?.body == Self.largeBody)
            #expect(try await beside.value == Array(repeating: "a1", count: 20))
        }
    }

    @Test func aCallerThatAcceptsLessGetsShorterPagesAndAWriteItCouldNotReceiveBackIsNotMade() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let service = try await DataServiceProcess(folder: folder, redisPort: redis.port)
        try await service.endpoint.withClient { client in
            for index in 1...3 {
                _ = try await client.put("big", "big-\(index)", Self.largeBody)
            }
        }
        try await service.endpoint.withClient(maximumFrameBytes: 1024 * 1024) { client in
            var pages: [[String]] = []
            var cursor = ""
            repeat {
                let page = try await client.call(DataMethods.list, Self.listing("big", cursor: cursor))
                pages.append(page.documents.map(\.id))
                cursor = page.nextCursor
            } while !cursor.isEmpty && pages.count < 10
            #expect(pages == [["big-1"], ["big-2"], ["big-3"]])

            // Within storage.max_body_bytes (1 MiB), but its answer, which carries it, would not fit 1 MiB.
            let body = #"{"blob":""# + String(repeating: "y", count: 1_048_500 - 11) + #""}"#
            let refused = await #expect(throws: RPCError.self) {
                try await client.put("big", "too-big", body)
            }
            #expect(refused?.code == .frameTooLarge, "\(String(describing: refused))")
            #expect(refused?.message.contains("nothing was written") == true)
            let missing = await #expect(throws: RPCError.self) {
                try await client.get("big", "too-big")
            }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func aBodyLimitThatNoFrameCanCarryIsRefusedAtLoadNamingBothSettings() async throws {
        let folder = try TestFolder()
        let environment = [
            "DATA_RPC_SECRET": dataSecret, "DATA_STORAGE_PATH": folder.path("x.sqlite"), "DATA_STORAGE_MAX_BODY_BYTES": "4194304",
        ]
        let refused = try ServiceProcess.start(
            product: "data-service", arguments: ["--check-config"], environment: environment, logPath: folder.path("refused.log")
        )
        #expect(try await refused.waitForExit(timeout: .seconds(20)) == .exited(78))
        for expected in [
            "storage.max_body_bytes is 4194304 (environment variable DATA_STORAGE_MAX_BODY_BYTES)",
            "rpc.max_frame_bytes is 4194304 (the default)", "raise rpc.max_frame_bytes to at least 4195328",
            "lower storage.max_body_bytes to at most 4193280",
        ] {
            #expect(refused.log.contains(expected), "\(expected) in \(refused.log)")
        }

        let raised = try ServiceProcess.start(
            product: "data-service", arguments: ["--check-config"], environment: environment.merging(["DATA_RPC_MAX_FRAME_BYTES": "4195328"]) { $1 },
            logPath: folder.path("raised.log")
        )
        #expect(try await raised.waitForExit(timeout: .seconds(20)) == .exited(0), "\(raised.log)")
    }
}
