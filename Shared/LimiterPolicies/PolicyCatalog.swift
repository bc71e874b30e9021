import Foundation
import GatehouseConfig
import Yams

/// The limiter's policy file: named policies, and the tiers that say which policies apply to which
/// class of caller.
///
/// ```yaml
/// replicas: 2                  # limiter replicas; the `local` fallback allows limit ÷ replicas each
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
/// tiers:
///   anonymous: [public]
///   user: [user]
/// ```
///
/// Parsing is strict: an unknown key, a wrong type, a non-positive limit, an unknown algorithm or key
/// part, a duplicate policy name, or a tier naming an unknown policy is an error naming its line and
/// field. All problems are reported at once.
public struct PolicyCatalog: Sendable {
    /// Every policy by name.
    public let policies: [String: RateLimitPolicy]
    /// Each tier's policies, in the order the file lists them.
    public let tiers: [String: [RateLimitPolicy]]
    /// How many limiter replicas share the limits (for the `local` fallback).
    public let replicas: Int

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
            throw PolicyFileError("\(source): the top level must be a mapping with 'policies' (and 'tiers', 'replicas')")
        }
        var replicas = 1
        var policyNodes: Node.Sequence?
        var tierNodes: Node.Mapping?
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "replicas":
                replicas = reader.int(value, field: "replicas", range: 1...1024) ?? 1
            case "policies":
                policyNodes = reader.sequence(value, field: "policies")
            case "tiers":
                tierNodes = reader.mapping(value, field: "tiers")
            default:
                reader.unknownKey(key, at: keyNode, field: key, valid: ["replicas", "policies", "tiers"])
            }
        }

        var policies: [String: RateLimitPolicy] = [:]
        if let policyNodes {
            for (index, node) in policyNodes.enumerated() {
                guard let policy = reader.policy(node, field: "policies[\(index)]") else { continue }
                if policies[policy.name] != nil {
                    reader.problem(at: node, field: "policies[\(index)].name", "duplicate policy name \"\(policy.name)\"")
                } else {
                    policies[policy.name] = policy
                }
            }
        } else {
            reader.problem("\(source): the file defines no 'policies'")
        }

        var tiers: [String: [RateLimitPolicy]] = [:]
        for (tierNode, value) in tierNodes ?? Node.Mapping([]) {
            let tier = tierNode.string ?? ""
            guard let names = reader.stringList(value, field: "tiers.\(tier)") else { continue }
            tiers[tier] = names.compactMap { name in
                guard let policy = policies[name] else {
                    let hint = EditDistance.closest(to: name, among: Array(policies.keys)).map { "; did you mean \"\($0)\"?" } ?? ""
                    reader.problem(at: value, field: "tiers.\(tier)", "unknown policy \"\(name)\"\(hint)")
                    return nil
                }
                return policy
            }
        }

        if !reader.problems.isEmpty {
            throw PolicyFileError(problems: reader.problems)
        }
        self.policies = policies
        self.tiers = tiers
        self.replicas = replicas
    }
}
