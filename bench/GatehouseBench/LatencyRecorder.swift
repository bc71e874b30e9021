/// Per-worker latency samples, merged at the end into percentiles.
struct LatencyRecorder: Sendable {
    private(set) var nanoseconds: [UInt64] = []

    init(reservingCapacity capacity: Int) {
        self.nanoseconds.reserveCapacity(capacity)
    }

    mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.nanoseconds.append(UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000))
    }

    /// Percentiles in microseconds over all samples of all recorders.
    static func summary(_ recorders: [LatencyRecorder]) -> (count: Int, p50: Double, p99: Double, max: Double) {
        var all = recorders.flatMap(\.nanoseconds)
        guard !all.isEmpty else { return (0, 0, 0, 0) }
        all.sort()
        func percentile(_ p: Double) -> Double {
            Double(all[min(all.count - 1, Int(Double(all.count) * p))]) / 1000
        }
        return (all.count, percentile(0.50), percentile(0.99), Double(all.last!) / 1000)
    }
}
