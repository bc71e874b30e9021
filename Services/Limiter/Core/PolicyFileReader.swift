import GatehouseConfig
import Yams

/// Reads typed values out of policy-file nodes, collecting a problem (with line and field) for each
/// bad one instead of stopping at the first.
struct PolicyFileReader {
    let source: String
    private(set) var problems: [String] = []

    init(source: String) {
        self.source = source
    }

    private static let policyKeys = ["name", "algorithm", "limit", "period", "burst", "cost", "key", "shadow", "on_redis_failure"]

    mutating func policy(_ node: Node, field: String) -> RateLimitPolicy? {
        guard let mapping = self.mapping(node, field: field) else { return nil }
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            guard Self.policyKeys.contains(key) else {
                self.unknownKey(key, at: keyNode, field: "\(field).\(key)", valid: Self.policyKeys)
                continue
            }
            values[key] = value
        }
        let problemsBefore = self.problems.count
        let name = self.required(values["name"], at: node, field: "\(field).name").flatMap { self.name($0, field: "\(field).name") }
        let algorithm = values["algorithm"].map { self.algorithm($0, field: "\(field).algorithm") } ?? .gcra
        let limit = self.required(values["limit"], at: node, field: "\(field).limit").flatMap {
            self.int($0, field: "\(field).limit", range: 1...RateLimitItem.maximumCount)
        }
        let period = self.required(values["period"], at: node, field: "\(field).period").flatMap {
            self.duration($0, field: "\(field).period")
        }
        let burst = values["burst"].flatMap { self.int($0, field: "\(field).burst", range: 1...RateLimitItem.maximumCount) }
        let cost = values["cost"].flatMap { self.int($0, field: "\(field).cost", range: 0...RateLimitItem.maximumCount) } ?? 1
        let key = self.required(values["key"], at: node, field: "\(field).key").flatMap { self.keyParts($0, field: "\(field).key") }
        let shadow = values["shadow"].flatMap { self.bool($0, field: "\(field).shadow") } ?? false
        let onRedisFailure = values["on_redis_failure"].flatMap {
            self.choice($0, field: "\(field).on_redis_failure", as: RedisFailureMode.self)
        } ?? .allow
        guard self.problems.count == problemsBefore, let name, let algorithm, let limit, let period, let key else { return nil }
        return RateLimitPolicy(
            name: name,
            algorithm: algorithm,
            limit: limit,
            period: period,
            burst: burst,
            cost: cost,
            key: key,
            shadow: shadow,
            onRedisFailure: onRedisFailure
        )
    }

    // MARK: Typed values

    mutating func mapping(_ node: Node, field: String) -> Node.Mapping? {
        guard case .mapping(let mapping) = node else {
            self.problem(at: node, field: field, "expected a mapping (key: value)")
            return nil
        }
        return mapping
    }

    mutating func sequence(_ node: Node, field: String) -> Node.Sequence? {
        guard case .sequence(let sequence) = node else {
            self.problem(at: node, field: field, "expected a list")
            return nil
        }
        return sequence
    }

    mutating func int(_ node: Node, field: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            self.problem(at: node, field: field, "expected a whole number, got \(Self.describe(node))")
            return nil
        }
        guard range.contains(value) else {
            self.problem(at: node, field: field, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, field: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Bool(scalar.string) else {
            self.problem(at: node, field: field, "expected true or false, got \(Self.describe(node))")
            return nil
        }
        return value
    }

    mutating func stringList(_ node: Node, field: String) -> [String]? {
        guard let sequence = self.sequence(node, field: field) else { return nil }
        var strings: [String] = []
        for item in sequence {
            guard case .scalar(let scalar) = item else {
                self.problem(at: item, field: field, "expected a list of names")
                return nil
            }
            strings.append(scalar.string)
        }
        return strings
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ node: Node, field: String, as type: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        let valid = Choice.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let value = Choice(rawValue: scalar.string) else {
            self.problem(at: node, field: field, "expected one of \(valid.joined(separator: ", ")), got \(Self.describe(node))")
            return nil
        }
        return value
    }

    private mutating func name(_ node: Node, field: String) -> String? {
        guard case .scalar(let scalar) = node,
            !scalar.string.isEmpty, scalar.string.count <= 64,
            scalar.string.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
        else {
            self.problem(at: node, field: field, "a policy name is 1 to 64 of A-Z a-z 0-9 _ - ., got \(Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    private mutating func algorithm(_ node: Node, field: String) -> RateLimitAlgorithm? {
        let valid = RateLimitAlgorithm.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let algorithm = RateLimitAlgorithm(rawValue: scalar.string) else {
            self.problem(at: node, field: field, "unknown algorithm \(Self.describe(node)); expected one of \(valid.joined(separator: ", "))")
            return nil
        }
        return algorithm
    }

    private mutating func keyParts(_ node: Node, field: String) -> [PolicyKeyPart]? {
        guard let names = self.stringList(node, field: field) else { return nil }
        guard !names.isEmpty else {
            self.problem(at: node, field: field, "needs at least one part: \(PolicyKeyPart.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        var parts: [PolicyKeyPart] = []
        for name in names {
            guard let part = PolicyKeyPart(rawValue: name) else {
                self.problem(
                    at: node,
                    field: field,
                    "unknown key part \"\(name)\"; expected any of \(PolicyKeyPart.allCases.map(\.rawValue).joined(separator: ", "))"
                )
                return nil
            }
            parts.append(part)
        }
        return parts
    }

    /// `500ms`, `30s`, `1m`, `1h`: a whole number and a unit, at least 1 ms, at most 1 day.
    private mutating func duration(_ node: Node, field: String) -> Duration? {
        let text = node.scalar?.string ?? ""
        let units: [(suffix: String, milliseconds: Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            if let value = Int(number), value > 0, value * unit.milliseconds <= 86_400_000 {
                return .milliseconds(value * unit.milliseconds)
            }
            break
        }
        self.problem(at: node, field: field, "expected a duration such as 500ms, 30s, 1m or 1h (at most 24h), got \(Self.describe(node))")
        return nil
    }

    // MARK: Problems

    private mutating func required(_ node: Node?, at parent: Node, field: String) -> Node? {
        if node == nil { self.problem(at: parent, field: field, "is required") }
        return node
    }

    mutating func unknownKey(_ key: String, at node: Node, field: String, valid: [String]) {
        let hint = EditDistance.closest(to: key, among: valid).map { "; did you mean '\($0)'?" } ?? ""
        self.problem(at: node, field: field, "unknown key '\(key)'\(hint)")
    }

    mutating func problem(at node: Node, field: String, _ message: String) {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        self.problems.append("\(self.source)\(line): \(field): \(message)")
    }

    mutating func problem(_ message: String) {
        self.problems.append(message)
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "\"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
