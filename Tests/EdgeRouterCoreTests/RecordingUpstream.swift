@testable import EdgeRouterCore
import Synchronization

/// A fake upstream for driving the gateway without sockets: it answers every read of `/…/{collection}/{id}`
/// or `/…/{collection}` with the answer the test sets, names the document and its collection as a write's
/// changes, and counts what it was asked. Reads may be held until the test releases them.
final class RecordingUpstream: EdgeUpstream {
    /// Reads planned (every safe request that reached the upstream step), fetches made, writes performed.
    let planned = Atomic<Int>(0)
    let fetches = Atomic<Int>(0)
    let writes = Atomic<Int>(0)
    private let readAnswer: Mutex<EdgeResponse>
    private let writeAnswer: Mutex<EdgeResponse>
    /// Whether fetches may answer, and the fetches waiting until they may.
    private let gate: Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>

    /// - Parameter holdingReads: Every fetch waits until ``releaseReads()``.
    init(holdingReads: Bool = false) {
        self.readAnswer = Mutex(Self.document(version: 1))
        self.writeAnswer = Mutex(Self.document(version: 2))
        self.gate = Mutex((!holdingReads, []))
    }

    /// Lets every held fetch, and every later one, answer.
    func releaseReads() {
        let waiting = self.gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        for fetch in waiting { fetch.resume() }
    }

    /// A `200` JSON answer with the entity tag of `version`.
    static func document(version: Int) -> EdgeResponse {
        EdgeResponse(status: 200, headers: [("Content-Type", "application/json"), ("ETag", "\"\(version)\"")], body: Array(#"{"version":\#(version)}"#.utf8))
    }

    /// What later fetches answer.
    func answerReads(_ response: EdgeResponse) {
        self.readAnswer.withLock { $0 = response }
    }

    /// What later writes answer.
    func answerWrites(_ response: EdgeResponse) {
        self.writeAnswer.withLock { $0 = response }
    }

    func read(_ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters) -> UpstreamRead {
        self.planned.add(1, ordering: .relaxed)
        return .fetch(tags: Self.tags(parameters), personal: false) {
            self.fetches.add(1, ordering: .relaxed)
            await withCheckedContinuation { fetch in
                let open = self.gate.withLock { gate in
                    if !gate.open { gate.waiting.append(fetch) }
                    return gate.open
                }
                if open { fetch.resume() }
            }
            return self.readAnswer.withLock { $0 }
        }
    }

    func write(
        _ request: EdgeRequest, route: EdgeRoute, caller: EdgeCaller, parameters: RouteParameters, preconditions: RequestPreconditions
    ) async -> UpstreamWrite {
        self.writes.add(1, ordering: .relaxed)
        let collection = parameters["collection"] ?? ""
        let changed: [CacheTag] = parameters["id"].map { [.document(collection: collection, id: $0), .collection(collection)] } ?? [.collection(collection)]
        return UpstreamWrite(response: self.writeAnswer.withLock { $0 }, invalidates: changed)
    }

    /// A read's tags: its document, or its collection for a listing.
    private static func tags(_ parameters: RouteParameters) -> [CacheTag] {
        let collection = parameters["collection"] ?? ""
        return parameters["id"].map { [.document(collection: collection, id: $0)] } ?? [.collection(collection)]
    }
}
