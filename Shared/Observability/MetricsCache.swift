import Metrics
import Synchronization

/// Metric objects created once per label and dimensions and reused, so code that picks its metric by a
/// value known only per request (a route, a status, a reason) does not create one per request.
public enum MetricsCache {
    private static let counters = Mutex<[String: Counter]>([:])
    private static let timers = Mutex<[String: Metrics.Timer]>([:])

    /// The counter with this label and these dimensions, created on first use.
    public static func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = Self.key(label, dimensions)
        return Self.counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions)
            counters[key] = counter
            return counter
        }
    }

    /// The timer with this label and these dimensions, created on first use.
    public static func timer(_ label: String, _ dimensions: [(String, String)]) -> Metrics.Timer {
        let key = Self.key(label, dimensions)
        return Self.timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Metrics.Timer(label: label, dimensions: dimensions)
            timers[key] = timer
            return timer
        }
    }

    /// `label|name=value|…`, built in one allocation: it is made on every lookup.
    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        var key = label
        key.reserveCapacity(dimensions.reduce(label.utf8.count) { $0 + $1.0.utf8.count + $1.1.utf8.count + 2 })
        for (name, value) in dimensions {
            key += "|"
            key += name
            key += "="
            key += value
        }
        return key
    }
}
