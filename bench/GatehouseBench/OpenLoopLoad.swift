import Foundation
import Synchronization

/// Sends operations at a fixed rate whatever the latency (open loop), so a slow answer cannot hold back the
/// next request; latency is measured from each request's scheduled start, which counts queueing delay
/// (no coordinated omission).
///
/// The schedule is kept by a dedicated thread sleeping with `nanosleep` (precise to tens of microseconds),
/// not by `Task.sleep`, whose timer slack on Linux would turn a steady rate into millisecond bursts.
enum OpenLoopLoad {
    /// Warms up for one second at `rate`, then measures for `seconds`.
    /// - Returns: The achieved rate and the latency summary.
    static func measure(
        rate: Double,
        seconds: Double,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> (rate: Double, latency: (count: Int, p50: Double, p99: Double, max: Double)) {
        _ = try await self.run(rate: rate, for: 1, operation)
        let start = ContinuousClock.now
        let samples = try await self.run(rate: rate, for: seconds, operation)
        let elapsed = ContinuousClock.now - start
        let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let summary = LatencyRecorder.summary([samples])
        return (Double(summary.count) / elapsedSeconds, summary)
    }

    private static func run(rate: Double, for seconds: Double, _ operation: @escaping @Sendable () async throws -> Void) async throws -> LatencyRecorder {
        let total = Int(rate * seconds)
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        let run = Run(capacity: total)
        let start = ContinuousClock.now
        let pacer = Thread {
            for index in 0..<total {
                let scheduled = start + interval * index
                let wait = scheduled - ContinuousClock.now
                if wait > .microseconds(20) {
                    var time = timespec(tv_sec: Int(wait.components.seconds), tv_nsec: Int(wait.components.attoseconds / 1_000_000_000))
                    nanosleep(&time, nil)
                }
                Task {
                    let failed = (try? await operation()) == nil
                    run.finish(latency: ContinuousClock.now - scheduled, failed: failed)
                }
            }
        }
        pacer.start()
        while run.finished < total {
            try await Task.sleep(for: .milliseconds(10))
        }
        if run.failures > 0 {
            throw OpenLoopError(description: "\(run.failures) of \(total) operations failed")
        }
        return run.samples.withLock { $0 }
    }

    private final class Run: Sendable {
        let samples: Mutex<LatencyRecorder>
        private let counts = Mutex((finished: 0, failures: 0))

        init(capacity: Int) {
            self.samples = Mutex(LatencyRecorder(reservingCapacity: capacity))
        }

        var finished: Int { self.counts.withLock { $0.finished } }
        var failures: Int { self.counts.withLock { $0.failures } }

        func finish(latency: Duration, failed: Bool) {
            self.samples.withLock { $0.record(latency) }
            self.counts.withLock {
                $0.finished += 1
                if failed { $0.failures += 1 }
            }
        }
    }

    struct OpenLoopError: Error, CustomStringConvertible {
        let description: String
    }
}
