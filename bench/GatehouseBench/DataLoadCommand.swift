import ArgumentParser
import Foundation
import GatehouseDataAPI
import GatehouseRPC
import Logging

/// `gatehouse-bench data-load`: point reads or single-document writes against a running data service over
/// RPC, from N concurrent callers, reported as operations/s with p50/p99.
struct DataLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data-load", abstract: "Load a data service with reads or writes over RPC.")

    enum Mode: String, ExpressibleByArgument {
        /// `data.Get` of documents seeded by `data-service seed` (collection `articles`, ids doc-000001…).
        case get
        /// `data.Put` replacing those documents, each acknowledged after its group commit.
        case put
    }

    @Option(help: "get or put.") var mode = Mode.get
    @Option(help: "Documents the calls cycle through (seeded ids doc-000001…).") var documents = 1000

    @OptionGroup var peer: BenchPeerOptions

    func run() async throws {
        let client = try self.peer.client(label: "gatehouse-bench.data-load")
        let data = DataClient(rpc: client)
        let ids = (1...self.documents).map { String(format: "doc-%06d", $0) }
        let counter = SharedCounter()
        let mode = self.mode
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            let (rate, latency) = try await ClosedLoopLoad.measure(concurrency: self.peer.concurrency, seconds: self.peer.seconds) {
                let number = counter.next()
                let id = ids[number % ids.count]
                switch mode {
                case .get:
                    _ = try await data.get(collection: "articles", id: id)
                case .put:
                    let body = #"{"title":"bench \#(number)","text":"written by gatehouse-bench data-load","n":\#(number)}"#
                    _ = try await data.put(collection: "articles", id: id, body: body)
                }
            }
            print(
                String(
                    format: "data %@: %.0f ops/s, p50 %.0f us, p99 %.0f us, max %.0f us (%d callers, %d connection(s), %d documents)",
                    mode.rawValue, rate, latency.p50, latency.p99, latency.max, self.peer.concurrency, self.peer.connections, self.documents
                )
            )
            group.cancelAll()
        }
    }
}
