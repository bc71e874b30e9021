import Foundation
import Synchronization

/// One request of an ``httpLoad(callers:requests:_:)`` run: its answer (status 0 when the connection failed)
/// and how long it took.
public struct HTTPLoadResult: Sendable {
    /// The request's number.
    public let index: Int
    /// The status, or 0 when no answer came.
    public let status: Int
    /// From sending to the whole answer.
    public let duration: Duration
    /// When the request was sent.
    public let sentAt: ContinuousClock.Instant
}

/// Sends `requests` HTTP requests from `callers` threads at once (real concurrency, not the test's two
/// cooperative threads), each thread taking the next request number until all are sent or `until` has
/// come; `target(i)` says where request `i` goes and what it is.
/// - Returns: Every request's result, in request order.
public func httpLoad(
    callers: Int, requests: Int, until deadline: ContinuousClock.Instant? = nil,
    _ target: @escaping @Sendable (Int) -> (port: Int, method: String, path: String, headers: [(String, String)])
) async -> [HTTPLoadResult] {
    let next = Atomic<Int>(0)
    let results = Mutex<[HTTPLoadResult]>([])
    let running = Atomic<Int>(callers)
    return await withCheckedContinuation { continuation in
        for _ in 0..<callers {
            Thread.detachNewThread {
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < requests, deadline.map({ ContinuousClock.now < $0 }) ?? true else { break }
                    let request = target(index)
                    let start = ContinuousClock.now
                    let status = (try? httpRequest(port: request.port, method: request.method, path: request.path, headers: request.headers).status) ?? 0
                    let result = HTTPLoadResult(index: index, status: status, duration: ContinuousClock.now - start, sentAt: start)
                    results.withLock { $0.append(result) }
                }
                if running.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    continuation.resume(returning: results.withLock { $0 }.sorted { $0.index < $1.index })
                }
            }
        }
    }
}
