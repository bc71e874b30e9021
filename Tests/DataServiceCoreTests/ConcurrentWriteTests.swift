import GatehouseTestSupport
import DataServiceCore
import Foundation
import GatehouseDataAPI
import Testing

@Suite struct ConcurrentWriteTests {
    @Test func thousandConcurrentConditionalWritersHaveExactlyOneWinner() async throws {
        try await withTemporaryStore { store, _ in
            let start = try await store.write(.put(collection: "c", id: "hot", body: body(["writer": "none"])))
            let results = await withTaskGroup(of: (Int, Result<WriteOutcome, DocumentError>).self) { group in
                for writer in 0..<1000 {
                    group.addTask {
                        do throws(DocumentError) {
                            let outcome = try await store.write(
                                .put(collection: "c", id: "hot", body: body(["writer": "\(writer)"]), ifVersion: start.version))
                            return (writer, .success(outcome))
                        } catch {
                            return (writer, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = results.compactMap { writer, result in (try? result.get()).map { (writer, $0) } }
            #expect(winners.count == 1)
            let winner = try #require(winners.first)
            #expect(winner.1.version == start.version + 1)
            for case (_, .failure(let error)) in results {
                #expect(error == .conflict(collection: "c", id: "hot", expected: start.version, actual: winner.1.version))
            }
            let stored = try #require(try await store.get(collection: "c", id: "hot"))
            #expect(stored.version == winner.1.version)
            #expect(stored.body == body(["writer": "\(winner.0)"]))
            #expect(try await store.dataVersion() == 2)
        }
    }

    @Test func readModifyWriteWithRetriesLosesNoUpdate() async throws {
        try await withTemporaryStore { store, _ in
            _ = try await store.write(.put(collection: "c", id: "counter", body: #"{"count":0}"#))
            let tasks = 16
            let incrementsPerTask = 10
            let wonVersions = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var won: [Int64] = []
                        while won.count < incrementsPerTask {
                            let current = try #require(try await store.get(collection: "c", id: "counter"))
                            let object = try JSONSerialization.jsonObject(with: Data(current.body.utf8)) as? [String: Int]
                            let count = try #require(object?["count"])
                            do throws(DocumentError) {
                                _ = try await store.write(
                                    .put(collection: "c", id: "counter", body: #"{"count":\#(count + 1)}"#, ifVersion: current.version))
                                won.append(current.version)
                            } catch {
                                guard case .conflict = error else { throw error }
                            }
                        }
                        return won
                    }
                }
                return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
            }
            let total = tasks * incrementsPerTask
            // Each version was the base of exactly one successful update.
            #expect(wonVersions.count == total)
            #expect(Set(wonVersions).count == total)
            let final = try #require(try await store.get(collection: "c", id: "counter"))
            #expect(final.body == #"{"count":\#(total)}"#)
            #expect(final.version == Int64(total + 1))
            #expect(try await store.dataVersion() == Int64(total + 1))
        }
    }

    @Test func burstOfPutsIsGroupCommittedAndDurable() async throws {
        let recorder = BatchRecorder()
        try await withTemporaryDirectory { directory in
            var configuration = DocumentStoreConfiguration(path: "\(directory)/documents.sqlite")
            configuration.onBatch = { recorder.record($0) }
            let store = try await DocumentStore(configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        let outcome = try await store.write(.put(collection: "burst", id: "doc-\(index)", body: body(["n": "\(index)"])))
                        // Answered only after COMMIT: a read from another connection sees it.
                        #expect(try await store.get(collection: "burst", id: "doc-\(index)")?.version == outcome.version)
                    }
                }
                try await group.waitForAll()
            }
            await store.close()

            let batches = recorder.recorded
            #expect(batches.map(\.writes).reduce(0, +) == 500)
            #expect(batches.map(\.committed).reduce(0, +) == 500)
            #expect(batches.count < 100, "500 concurrent puts took \(batches.count) transactions")
            #expect(batches.allSatisfy { $0.writes <= configuration.maxBatchSize })

            let reopened = try await DocumentStore(configuration)
            #expect(try await reopened.dataVersion() == 500)
            for index in 0..<500 {
                #expect(try await reopened.get(collection: "burst", id: "doc-\(index)")?.body == body(["n": "\(index)"]))
            }
            var versions: Set<Int64> = []
            var cursor: String?
            repeat {
                let page = try await reopened.list(collection: "burst", limit: 1000, cursor: cursor)
                versions.formUnion(page.documents.map(\.version))
                cursor = page.nextCursor
            } while cursor != nil
            #expect(versions == Set(1...500))
            await reopened.close()
        }
    }

    @Test func failingWritesInABatchDoNotAffectTheOthers() async throws {
        let recorder = BatchRecorder()
        try await withTemporaryStore({ configuration in configuration.onBatch = { recorder.record($0) } }) { store, _ in
            for index in 0..<50 {
                _ = try await store.write(.put(collection: "c", id: "existing-\(index)", body: "{}"))
            }
            // Every fourth write fails: a stale ifVersion, a missing document or an existing one with ifVersion 0.
            let results = await withTaskGroup(of: (Int, Result<WriteOutcome, DocumentError>).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let write: DocumentWrite =
                            switch index % 8 {
                            case 0: .put(collection: "c", id: "existing-\(index % 50)", body: "{}", ifVersion: 999)
                            case 4: .delete(collection: "c", id: "missing-\(index)")
                            case 2 where index < 100: .put(collection: "c", id: "existing-\(index % 50)", body: "{}", ifVersion: 0)
                            default: .put(collection: "c", id: "new-\(index)", body: body(["i": "\(index)"]))
                            }
                        do throws(DocumentError) {
                            return (index, .success(try await store.write(write)))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var committed = 0
            for (index, result) in results {
                switch (index % 8, result) {
                case (0, .failure(let error)):
                    guard case .conflict(_, _, 999, _) = error else {
                        Issue.record("write \(index): \(error)")
                        continue
                    }
                case (4, .failure(let error)):
                    #expect(error == .notFound(collection: "c", id: "missing-\(index)"))
                case (2, .failure(let error)) where index < 100:
                    guard case .conflict(_, _, 0, .some) = error else {
                        Issue.record("write \(index): \(error)")
                        continue
                    }
                case (_, .success(let outcome)):
                    committed += 1
                    #expect(try await store.get(collection: "c", id: "new-\(index)")?.version == outcome.version)
                default:
                    Issue.record("write \(index) ended unexpectedly: \(result)")
                }
            }
            #expect(committed == 200 - 25 - 25 - 13)
            #expect(try await store.dataVersion() == Int64(50 + committed))
            let mixed = recorder.recorded.filter { $0.committed > 0 && $0.failed > 0 }
            #expect(!mixed.isEmpty, "no batch held both failed and committed writes")
            let versions = try await store.pendingEvents(after: 50, limit: 1000).map(\.version)
            #expect(versions == Array(51...Int64(50 + committed)))
        }
    }

    @Test func fullQueueRejectsWritesAsOverloaded() async throws {
        try await withTemporaryStore({ $0.maxQueuedWrites = 2; $0.maxBatchSize = 1 }) { store, _ in
            let results = await withTaskGroup(of: Result<WriteOutcome, DocumentError>.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do throws(DocumentError) {
                            return .success(try await store.write(.put(collection: "c", id: "d\(index)", body: "{}")))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let succeeded = results.filter { (try? $0.get()) != nil }.count
            let overloaded = results.filter { if case .failure(.overloaded(limit: 2)) = $0 { true } else { false } }.count
            #expect(succeeded + overloaded == 200)
            #expect(overloaded > 0)
            #expect(succeeded > 0)
            let version = try await store.dataVersion()
            #expect(version == Int64(succeeded))
        }
    }
}
