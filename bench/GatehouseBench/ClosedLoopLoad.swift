/// Drives an operation from N concurrent callers, each starting its next call when the last returns; the
/// callers run on the event loops (``CallerExecutors``).
enum ClosedLoopLoad {
    /// Warms up for one second, then measures for `duration`.
    /// - Returns: Operations per second and the latency summary.
    static func measure(
        concurrency: Int,
        seconds: Double,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> (rate: Double, latency: (count: Int, p50: Double, p99: Double, max: Double)) {
        try await self.run(concurrency: concurrency, for: .seconds(1), record: false, operation)
        let start = ContinuousClock.now
        let recorders = try await self.run(concurrency: concurrency, for: .milliseconds(Int(seconds * 1000)), record: true, operation)
        let elapsed = ContinuousClock.now - start
        let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let summary = LatencyRecorder.summary(recorders)
        return (Double(summary.count) / elapsedSeconds, summary)
    }

    @discardableResult
    private static func run(
        concurrency: Int,
        for duration: Duration,
        record: Bool,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> [LatencyRecorder] {
        let end = ContinuousClock.now + duration
        return try await withThrowingTaskGroup(of: LatencyRecorder.self) { group in
            for caller in 0..<concurrency {
                group.addTask(executorPreference: CallerExecutors.forCaller(caller)) {
                    var recorder = LatencyRecorder(reservingCapacity: record ? 200_000 : 0)
                    var started = ContinuousClock.now
                    while started < end {
                        try await operation()
                        let finished = ContinuousClock.now
                        if record { recorder.record(finished - started) }
                        started = finished
                    }
                    return recorder
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}
