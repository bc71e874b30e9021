import GatehouseConfig
import Yams

extension YAMLNodeReader {
    /// The keys of `upstream.health_check`.
    static let healthCheckKeys = ["path", "interval", "timeout", "healthy_after", "unhealthy_after"]

    /// A route's `upstream.health_check:` mapping (``UpstreamHealthCheck``): `path` an origin-form path,
    /// `interval` 1 s to 5 min, `timeout` 10 ms up to the interval, the thresholds 1 to 10.
    mutating func healthCheck(_ node: Node, field: String) -> UpstreamHealthCheck? {
        guard let values = self.values(node, field: field, valid: Self.healthCheckKeys) else { return nil }
        let before = self.problems.count
        var check = UpstreamHealthCheck.defaults
        if let pathNode = values["path"] {
            if let path = pathNode.scalar?.string, path.hasPrefix("/"), !path.contains(" "), !path.contains("#") {
                check.path = path
            } else {
                self.problem(at: pathNode, field: "\(field).path", "expected a path such as /health (a query may follow), got \(YAMLNodeReader.describe(pathNode))")
            }
        }
        let between = { (reader: inout YAMLNodeReader, key: String, range: ClosedRange<Duration>, text: String) -> Duration? in
            guard let valueNode = values[key], let value = reader.duration(valueNode, field: "\(field).\(key)") else { return nil }
            guard range.contains(value) else {
                reader.problem(at: valueNode, field: "\(field).\(key)", "expected \(text), got \(YAMLNodeReader.describe(valueNode))")
                return nil
            }
            return value
        }
        check.interval = between(&self, "interval", .seconds(1)...(.seconds(300)), "1s to 5m") ?? check.interval
        check.timeout = between(&self, "timeout", .milliseconds(10)...(.seconds(300)), "10ms to 5m") ?? check.timeout
        if check.timeout > check.interval {
            self.problem(at: values["timeout"] ?? values["interval"] ?? node, field: "\(field).timeout", "the timeout must not be longer than the interval")
        }
        check.healthyAfter = values["healthy_after"].flatMap { self.int($0, field: "\(field).healthy_after", range: 1...10) } ?? check.healthyAfter
        check.unhealthyAfter = values["unhealthy_after"].flatMap { self.int($0, field: "\(field).unhealthy_after", range: 1...10) } ?? check.unhealthyAfter
        return self.problems.count == before ? check : nil
    }
}
