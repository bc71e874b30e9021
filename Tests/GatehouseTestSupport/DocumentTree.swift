import Foundation
import Yams

/// A YAML or JSON document read into plain values, for tests that check documents by their content (the
/// OpenAPI descriptions, the route file, JSON answers).
public enum DocumentTree: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([DocumentTree])
    case object([String: DocumentTree])

    /// A document that cannot be read, with what is wrong.
    public struct Failure: Error, CustomStringConvertible {
        /// What is wrong and where.
        public let description: String

        /// A failure saying `description`.
        public init(_ description: String) {
            self.description = description
        }
    }

    /// Reads a YAML document (YAML 1.1 scalars as Yams resolves them; a quoted scalar is always a string;
    /// mapping keys are read as their text). `source` names the file in failures.
    public static func yaml(_ text: String, source: String) throws -> DocumentTree {
        do {
            guard let node = try Yams.compose(yaml: text) else { throw Failure("\(source): the document is empty") }
            return try Self(node, source: source)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("\(source): \(error)")
        }
    }

    /// Reads a JSON document strictly (`true` is never a number, `1` never a boolean).
    public static func json(_ text: String) throws -> DocumentTree {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)).tree
        } catch {
            throw Failure("not JSON: \(error): \(text.prefix(80))")
        }
    }

    private init(_ node: Node, source: String) throws {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .null
            case .bool: self = node.bool.map(Self.bool) ?? .string(scalar.string)
            case .int: self = node.int.map(Self.int) ?? .string(scalar.string)
            case .float: self = node.float.map(Self.double) ?? .string(scalar.string)
            default: self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var members: [String: DocumentTree] = [:]
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw Failure("\(source):\(key.mark?.line ?? 0): a mapping key that is not a scalar")
                }
                members[name] = try Self(value, source: source)
            }
            self = .object(members)
        case .sequence(let sequence):
            self = .array(try sequence.map { try Self($0, source: source) })
        case .alias:
            throw Failure("\(source):\(node.mark?.line ?? 0): aliases are not read")
        }
    }

    /// The member named `key` of an object.
    public subscript(key: String) -> DocumentTree? {
        if case .object(let members) = self { members[key] } else { nil }
    }

    /// The value as a string, if it is one.
    public var string: String? { if case .string(let value) = self { value } else { nil } }
    /// The value as an integer, if it is one.
    public var int: Int? { if case .int(let value) = self { value } else { nil } }
    /// The value as a boolean, if it is one.
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The items of an array.
    public var array: [DocumentTree]? { if case .array(let value) = self { value } else { nil } }
    /// The members of an object.
    public var object: [String: DocumentTree]? { if case .object(let value) = self { value } else { nil } }
    /// The value as a number, integer or not.
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// Whether the value is of a JSON Schema type.
    public func isOf(_ type: String) -> Bool {
        switch (type, self) {
        case ("null", .null), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double), ("string", .string), ("array", .array),
            ("object", .object):
            true
        case ("integer", .double(let value)): value.rounded() == value
        default: false
        }
    }

    /// Equality as JSON Schema sees it: `1` and `1.0` are the same number.
    public func sameJSON(as other: DocumentTree) -> Bool {
        if let number = self.number, let otherNumber = other.number { return number == otherNumber }
        return self == other
    }

    /// The value as compact JSON-like text (long strings shortened), for failure messages.
    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value.count > 80 ? String(value.prefix(80)) + "…" : value)\""
        case .array(let items): "[" + items.map(\.description).joined(separator: ",") + "]"
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

/// A JSON value decoded strictly, turned into a ``DocumentTree``.
private struct JSONValue: Decodable {
    let tree: DocumentTree

    init(from decoder: any Decoder) throws {
        if var items = try? decoder.unkeyedContainer() {
            var array: [DocumentTree] = []
            while !items.isAtEnd { array.append(try items.decode(JSONValue.self).tree) }
            self.tree = .array(array)
        } else if let members = try? decoder.container(keyedBy: AnyKey.self) {
            var object: [String: DocumentTree] = [:]
            for key in members.allKeys { object[key.stringValue] = try members.decode(JSONValue.self, forKey: key).tree }
            self.tree = .object(object)
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self.tree = .null
            } else if let bool = try? value.decode(Bool.self) {
                self.tree = .bool(bool)
            } else if let int = try? value.decode(Int.self) {
                self.tree = .int(int)
            } else if let double = try? value.decode(Double.self) {
                self.tree = .double(double)
            } else {
                self.tree = .string(try value.decode(String.self))
            }
        }
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
