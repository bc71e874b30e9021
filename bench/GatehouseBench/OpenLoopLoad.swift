import GatehouseNIOSupport
import NIOCore
import Synchronization

/// Sends operations at a fixed rate whatever the latency (open loop), so a slow answer cannot hold back the
/// next request; latency is measured from each request's scheduled start, which counts queueing delay
/// (no coordinated omission).
///
/// The schedule is kept by the event loops themselves (``CallerExecutors``): request `i` is due at
/// `start + i / rate` and belongs to loop `i % loops`. Each loop wakes on NIO's timer (a `timerfd`, precise to
/// microseconds) when its next request is due, starts every request due within the next millisecond as a
/// task on that loop and sleeps until the next one. A request's call, its answer and the next start then
/// share one thread, so the generator takes as little as it can of the cores it shares with the server it
/// measures.
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
        let run = Run(total: Int(rate * seconds), rate: rate, start: .now() + .milliseconds(1), operation: operation)
        for (index, executor) in CallerExecutors.all.enumerated() {
            let pacer = Pacer(run: run, executor: executor, next: index, step: CallerExecutors.all.count)
            executor.eventLoop.execute { pacer.startDue() }
        }
        while run.finished < run.total {
            try await Task.sleep(for: .milliseconds(10))
        }
        if run.failures > 0 {
            throw OpenLoopError(description: "\(run.failures) of \(run.total) operations failed")
        }
        return run.samples.withLock { $0 }
    }

    /// One loop's share of the schedule; touched only on its loop.
    private final class Pacer: @unchecked Sendable {
        /// Requests due within this much of a wake-up start at that wake-up: one timer wake-up per loop and
        /// millisecond instead of one per request, which halves the generator's CPU on the cores it shares
        /// with the server it measures (measured at 14,000/s: 3.6 against 6.5 CPU-seconds per 9 s run). A
        /// request started early is timed from its actual start, so starting early never shortens it.
        private static let earlyStart = TimeAmount.milliseconds(1)

        private let run: Run
        private let executor: EventLoopTaskExecutor
        private var next: Int
        private let step: Int

        init(run: Run, executor: EventLoopTaskExecutor, next: Int, step: Int) {
            self.run = run
            self.executor = executor
            self.next = next
            self.step = step
        }

        func startDue() {
            let horizon = NIODeadline.now() + Self.earlyStart
            while self.next < self.run.total, self.run.due(self.next) <= horizon {
                let run = self.run
                let scheduled = run.due(self.next)
                Task(executorPreference: self.executor) {
                    let started = min(scheduled, NIODeadline.now())
                    let failed = (try? await run.operation()) == nil
                    run.finish(latency: NIODeadline.now() - started, failed: failed)
                }
                self.next += self.step
            }
            if self.next < self.run.total {
                self.executor.eventLoop.scheduleTask(deadline: self.run.due(self.next)) { self.startDue() }
            }
        }
    }

    private final class Run: Sendable {
        let total: Int
        let operation: @Sendable () async throws -> Void
        let samples: Mutex<LatencyRecorder>
        private let start: NIODeadline
        private let intervalNanoseconds: Double
        private let counts = Mutex((finished: 0, failures: 0))

        init(total: Int, rate: Double, start: NIODeadline, operation: @escaping @Sendable () async throws -> Void) {
            self.total = total
            self.operation = operation
            self.samples = Mutex(LatencyRecorder(reservingCapacity: total))
            self.start = start
            self.intervalNanoseconds = 1e9 / rate
        }

        /// When request `index` is due.
        func due(_ index: Int) -> NIODeadline {
            self.start + .nanoseconds(Int64(Double(index) * self.intervalNanoseconds))
        }

        var finished: Int { self.counts.withLock { $0.finished } }
        var failures: Int { self.counts.withLock { $0.failures } }

        func finish(latency: TimeAmount, failed: Bool) {
            self.samples.withLock { $0.record(.nanoseconds(latency.nanoseconds)) }
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
