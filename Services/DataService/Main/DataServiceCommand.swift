import ArgumentParser
import DataServiceCore
import Foundation
import GatehouseCommand

/// `data-service`: JSON documents in SQLite over RPC, with invalidation events on Redis.
@main
struct DataServiceCommand: AsyncParsableCommand {
    static let configuration = ServeCommand<DataService>.executable(managedBy: [Seed.self, Backup.self])
}

extension ConfigOptions<DataService> {
    /// Opens the store the configuration names, for `seed` and `backup`.
    func openStore() async throws -> DocumentStore {
        try await self.load { document in try await DocumentStore.open(try DataServiceConfiguration.readStorage(&document)) }
    }
}

/// `data-service seed --count N`: sample documents for demos and benchmarks.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write N sample documents (ids doc-000001…; running it again replaces them).")

    @OptionGroup var options: ConfigOptions<DataService>
    @Option(help: "How many documents.") var count = 1000
    @Option(help: "Their collection.") var collection = "articles"

    func run() async throws {
        let store = try await self.options.openStore()
        let started = ContinuousClock.now
        let chunk = 512
        for first in stride(from: 1, through: self.count, by: chunk) {
            try await withThrowingDiscardingTaskGroup { group in
                for number in first..<min(first + chunk, self.count + 1) {
                    group.addTask {
                        _ = try await store.write(
                            .put(collection: self.collection, id: String(format: "doc-%06d", number), body: SampleDocument.body(number: number), owner: "seed")
                        )
                    }
                }
            }
        }
        let version = try await store.dataVersion()
        await store.close()
        print("seeded \(self.count) documents in '\(self.collection)' in \(ContinuousClock.now - started); data version \(version)")
    }
}

/// `data-service backup PATH`: a consistent copy while the service runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a consistent online copy of the database to PATH (which must not exist).")

    @OptionGroup var options: ConfigOptions<DataService>
    @Argument(help: "The copy's path.") var path: String

    /// Refuses a path that exists before anything is opened.
    func validate() throws {
        guard !FileManager.default.fileExists(atPath: self.path) else {
            throw ValidationError("\(self.path) already exists; choose a new path")
        }
    }

    func run() async throws {
        let store = try await self.options.openStore()
        try await store.backup(to: self.path)
        let version = try await store.dataVersion()
        await store.close()
        print("backed up to \(self.path) at data version \(version)")
    }
}
