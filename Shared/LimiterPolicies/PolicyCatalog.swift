import Foundation
import GatehouseConfig
import Yams

/// The limiter's policy file: named policies, read by the limiter and by the edge routers (which build each
/// policy's key from its `key` parts and decide its `on_redis_failure` while the limiter cannot be asked).
///
/// ```yaml
/// replicas: 2                  # fleet size assumed until the live edges and limiters are counted in Redis
/// policies:
///   - name: public
///     limit: 20
///     period: 1m               # ms, s, m or h
///     key: [ip]
///   - name: user
///     algorithm: token_bucket  # gcra (default), token_bucket, sliding_window, fixed_window
///     limit: 200
///     period: 1m
///     burst: 50                # default: limit
///     key: [sub]
///     on_redis_failure: local  # allow (default), deny, local
///     shadow: false            # true: count and log, but always allow
/// ```
///
/// Which policies apply to which caller is the edge's route file's business (its `tiers`); a `tiers` section
/// here is refused with a message saying so. Parsing is strict: an unknown key, a wrong type, a non-positive
/// limit, an unknown algorithm or key part, a key part listed twice, or a duplicate policy name is an error
/// naming its line and field. All problems are reported at once.
public struct PolicyCatalog: Sendable {
    /// Every policy by name.
    public let policies: [String: RateLimitPolicy]
    /// How many edges (or limiters) are assumed to share each limit until the live fleet is counted in Redis
    /// (`FleetMembership`): the `local` fallback's divisor and the lease caps' before the first count.
    public let replicas: Int
    /// The file's name in messages, usually its path.
    public let source: String
    /// The line of each policy's definition, by name, when the parser reported one.
    public let lines: [String: Int]

    /// Reads a policy file.
    /// - Parameter path: The file's path.
    /// - Throws: ``PolicyFileError`` when the file is missing or invalid.
    public static func load(path: String) throws(PolicyFileError) -> PolicyCatalog {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyFileError("\(path): cannot read the policy file: \(error.localizedDescription)")
        }
        return try PolicyCatalog(yaml: text, source: path)
    }

    /// Parses policy YAML.
    /// - Parameters:
    ///   - yaml: The file's text.
    ///   - source: The name used in error messages, usually the path.
    /// - Throws: ``PolicyFileError`` listing every problem.
    public init(yaml: String, source: String) throws(PolicyFileError) {
        var reader = YAMLNodeReader(source: source)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw PolicyFileError("\(source): YAML syntax error: \(error)")
        }
        guard let root, case .mapping(let top) = root else {
            throw PolicyFileError("\(source): the top level must be a mapping with 'policies' (and 'replicas')")
        }
        var replicas = 1
        var policyNodes: Node.Sequence?
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "replicas":
                replicas = reader.int(value, field: "replicas", range: 1...1024) ?? 1
            case "policies":
                policyNodes = reader.sequence(value, field: "policies")
            case "tiers":
                reader.problem(
                    at: keyNode, field: "tiers",
                    "tiers are not read from the policy file: they live in the edge router's route file (routes.file, its 'tiers' and each route's); remove this section"
                )
            default:
                reader.unknownKey(key, at: keyNode, field: key, valid: ["replicas", "policies"])
            }
        }

        var policies: [String: RateLimitPolicy] = [:]
        var lines: [String: Int] = [:]
        if let policyNodes {
            for (index, node) in policyNodes.enumerated() {
                guard let policy = reader.policy(node, field: "policies[\(index)]") else { continue }
                if policies[policy.name] != nil {
                    reader.problem(at: node, field: "policies[\(index)].name", "duplicate policy name \"\(policy.name)\"")
                } else {
                    policies[policy.name] = policy
                    lines[policy.name] = node.mark?.line
                }
            }
        } else {
            reader.problem("\(source): the file defines no 'policies'")
        }

        if !reader.problems.isEmpty {
            throw PolicyFileError(problems: reader.problems)
        }
        self.policies = policies
        self.replicas = replicas
        self.source = source
        self.lines = lines
    }
}
