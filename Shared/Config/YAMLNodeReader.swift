import Yams

/// Reads typed values out of the nodes of a YAML file with a structure of its own (the limiter's policy
/// file, the edge router's route file), collecting one problem per bad value, each with its line and field,
/// instead of stopping at the first: the operator fixes them all in one go.
public struct YAMLNodeReader {
    /// The file's name, at the start of every problem.
    public let source: String
    /// The problems found so far, as `file:line: field: message`.
    public private(set) var problems: [String] = []

    /// Creates a reader for the nodes of `source`.
    public init(source: String) {
        self.source = source
    }

    // MARK: Typed values

    /// The node as a mapping, or a problem.
    public mutating func mapping(_ node: Node, field: String) -> Node.Mapping? {
        guard case .mapping(let mapping) = node else {
            self.problem(at: node, field: field, "expected a mapping (key: value)")
            return nil
        }
        return mapping
    }

    /// The values of a mapping by key; a key not in `valid` is a problem naming the closest valid one.
    public mutating func values(_ node: Node, field: String, valid: [String]) -> [String: Node]? {
        guard let mapping = self.mapping(node, field: field) else { return nil }
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            guard valid.contains(key) else {
                self.unknownKey(key, at: keyNode, field: field.isEmpty ? key : "\(field).\(key)", valid: valid)
                continue
            }
            values[key] = value
        }
        return values
    }

    /// The node as a list, or a problem.
    public mutating func sequence(_ node: Node, field: String) -> Node.Sequence? {
        guard case .sequence(let sequence) = node else {
            self.problem(at: node, field: field, "expected a list")
            return nil
        }
        return sequence
    }

    /// A whole number in `range`, or a problem.
    public mutating func int(_ node: Node, field: String, range: ClosedRange<Int>) -> Int? {
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

    /// `true` or `false`, or a problem.
    public mutating func bool(_ node: Node, field: String) -> Bool? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Bool(scalar.string) else {
            self.problem(at: node, field: field, "expected true or false, got \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// A list of scalars, or a problem.
    public mutating func stringList(_ node: Node, field: String) -> [String]? {
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

    /// One of an enumeration's raw values, or a problem listing them.
    public mutating func choice<Choice: RawRepresentable & CaseIterable>(_ node: Node, field: String, as type: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        let valid = Choice.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, let value = Choice(rawValue: scalar.string) else {
            self.problem(at: node, field: field, "expected one of \(valid.joined(separator: ", ")), got \(Self.describe(node))")
            return nil
        }
        return value
    }

    /// `500ms`, `30s`, `1m`, `1h`: a whole number and a unit, at least 1 ms, at most 1 day.
    public mutating func duration(_ node: Node, field: String) -> Duration? {
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

    /// The node, or a problem saying the field is required.
    public mutating func required(_ node: Node?, at parent: Node, field: String) -> Node? {
        if node == nil { self.problem(at: parent, field: field, "is required") }
        return node
    }

    /// Records an unknown key, with the closest valid key as a suggestion.
    public mutating func unknownKey(_ key: String, at node: Node, field: String, valid: [String]) {
        let hint = EditDistance.closest(to: key, among: valid).map { "; did you mean '\($0)'?" } ?? ""
        self.problem(at: node, field: field, "unknown key '\(key)'\(hint)")
    }

    /// Records a problem at a node's line.
    public mutating func problem(at node: Node, field: String, _ message: String) {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        self.problems.append("\(self.source)\(line): \(field): \(message)")
    }

    /// Records a problem of the whole file.
    public mutating func problem(_ message: String) {
        self.problems.append(message)
    }

    /// A node as a problem message shows it: a quoted scalar, or its kind.
    public static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "\"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
