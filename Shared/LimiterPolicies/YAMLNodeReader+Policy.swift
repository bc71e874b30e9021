import GatehouseConfig
import Yams

/// The policy file's own values, read with the shared ``YAMLNodeReader``.
extension YAMLNodeReader {
    static let policyKeys = ["name", "algorithm", "limit", "period", "burst", "cost", "key", "shadow", "on_redis_failure"]

    mutating func policy(_ node: Node, field: String) -> RateLimitPolicy? {
        guard let values = self.values(node, field: field, valid: Self.policyKeys) else { return nil }
        let problemsBefore = self.problems.count
        let name = self.required(values["name"], at: node, field: "\(field).name").flatMap { self.name($0, field: "\(field).name") }
        let algorithm = values["algorithm"].map { self.algorithm($0, field: "\(field).algorithm") } ?? .gcra
        let limit = self.required(values["limit"], at: node, field: "\(field).limit").flatMap {
            self.int($0, field: "\(field).limit", range: 1...RateLimitPolicy.maximumCount)
        }
        let period = self.required(values["period"], at: node, field: "\(field).period").flatMap {
            self.duration($0, field: "\(field).period")
        }
        let burst = values["burst"].flatMap { self.int($0, field: "\(field).burst", range: 1...RateLimitPolicy.maximumCount) }
        let cost = values["cost"].flatMap { self.int($0, field: "\(field).cost", range: 0...RateLimitPolicy.maximumCount) } ?? 1
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
            guard !parts.contains(part) else {
                self.problem(at: node, field: field, "key part \"\(name)\" is listed twice")
                return nil
            }
            parts.append(part)
        }
        return parts
    }
}
