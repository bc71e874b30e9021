import Foundation

/// An OpenAPI 3.1 description read from the repository, with the checks the description tests make: `$ref`s
/// that resolve, examples that fit their schemas, and values checked against a schema (the JSON Schema
/// keywords the descriptions use).
public struct OpenAPIDescription: Sendable {
    /// The HTTP methods an OpenAPI path item can hold, lower-case.
    public static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The whole document.
    public let root: DocumentTree

    /// Reads the description at `path` inside the repository (e.g. `docs/openapi/edge-router.yaml`).
    public static func load(_ path: String) throws -> OpenAPIDescription {
        let url = TestEnvironment.packageRoot.appendingPathComponent(path)
        return OpenAPIDescription(root: try DocumentTree.yaml(try String(contentsOf: url, encoding: .utf8), source: path))
    }

    /// Every operation, by path and lower-case method.
    public var operations: [(path: String, method: String, operation: DocumentTree)] {
        (self.root["paths"]?.object ?? [:]).sorted { $0.key < $1.key }.flatMap { path, item in
            Self.methods.compactMap { method in item[method].map { (path, method, $0) } }
        }
    }

    /// The operation of a path template and method, if described.
    public func operation(_ method: String, _ template: String) -> DocumentTree? {
        self.root["paths"]?[template]?[method.lowercased()]
    }

    /// The template of `paths` that a request path falls under: of those that match, the one with the most
    /// literal segments.
    public func template(of path: String) -> String? {
        let segments = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var best: (template: String, literals: Int)?
        for template in (self.root["paths"]?.object ?? [:]).keys.sorted() {
            let parts = Array(template.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
            guard parts.count == segments.count else { continue }
            var literals = 0
            var matches = true
            for (part, segment) in zip(parts, segments) {
                if part.hasPrefix("{"), part.hasSuffix("}") {
                    matches = matches && !segment.isEmpty
                } else if part == segment {
                    literals += 1
                } else {
                    matches = false
                }
            }
            if matches, literals > best?.literals ?? -1 { best = (template, literals) }
        }
        return best?.template
    }

    /// The response object of an operation for a status: the code itself, else its range (`4XX`), else `default`.
    public func response(_ operation: DocumentTree, status: Int) -> DocumentTree? {
        let responses = operation["responses"]
        return responses?[String(status)] ?? responses?["\(status / 100)XX"] ?? responses?["default"]
    }

    /// Follows `$ref`s (local JSON pointers) to the node they name.
    public func resolve(_ node: DocumentTree) throws -> DocumentTree {
        var node = node
        var hops = 0
        while let reference = node["$ref"]?.string {
            guard reference.hasPrefix("#/"), hops < 32 else { throw DocumentTree.Failure("cannot resolve \(reference)") }
            var target = self.root
            for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
                let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                guard let next = target[key] else { throw DocumentTree.Failure("\(reference) does not resolve") }
                target = next
            }
            node = target
            hops += 1
        }
        return node
    }

    /// Every `$ref` that does not resolve, with where it is.
    public func unresolvedReferences() -> [String] {
        var failures: [String] = []
        func walk(_ node: DocumentTree, _ location: String) {
            switch node {
            case .object(let members):
                if members["$ref"] != nil, (try? self.resolve(node)) == nil { failures.append("\(location): \(members["$ref"].map { "\($0)" } ?? "")") }
                for (key, value) in members { walk(value, "\(location)/\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(location)/\(index)") }
            default: break
            }
        }
        walk(self.root, "#")
        return failures.sorted()
    }

    /// Every `example` and `examples.*.value` that does not fit the schema beside it (media types, headers,
    /// parameters) or the schema it belongs to.
    public func examplesThatBreakTheirSchemas() -> [String] {
        var failures: [String] = []
        func examples(of node: DocumentTree) -> [(String, DocumentTree)] {
            var found: [(String, DocumentTree)] = []
            if let example = node["example"] { found.append(("example", example)) }
            for (name, example) in node["examples"]?.object ?? [:] {
                if let value = (try? self.resolve(example))?["value"] { found.append(("examples.\(name)", value)) }
            }
            return found
        }
        func walk(_ node: DocumentTree, _ location: String) {
            switch node {
            case .object(let members):
                let schema = members["schema"] ?? (members["type"] != nil || members["properties"] != nil ? node : nil)
                if let schema {
                    for (name, example) in examples(of: node) {
                        let integerHeader = (try? self.resolve(schema))?["type"]?.string == "integer"
                        let value = integerHeader ? (example.string.flatMap { Int($0) }.map(DocumentTree.int) ?? example) : example
                        failures += self.schemaProblems(value, schema, at: "\(location)/\(name)")
                    }
                }
                for (key, value) in members where key != "example" && key != "examples" { walk(value, "\(location)/\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(location)/\(index)") }
            default: break
            }
        }
        walk(self.root, "#")
        return failures.sorted()
    }

    /// What is wrong with a value under a JSON Schema (the keywords the description uses, `$ref`s resolved).
    /// Properties a schema with `properties` does not list are wrong unless `additionalProperties` allows them.
    public func schemaProblems(_ value: DocumentTree, _ schemaNode: DocumentTree, at location: String) -> [String] {
        guard let schema = try? self.resolve(schemaNode) else { return ["\(location): its schema does not resolve"] }
        var problems: [String] = []
        for part in schema["allOf"]?.array ?? [] { problems += self.schemaProblems(value, part, at: location) }
        if let alternatives = schema["anyOf"]?.array ?? schema["oneOf"]?.array,
            !alternatives.contains(where: { self.schemaProblems(value, $0, at: location).isEmpty })
        {
            problems.append("\(location): \(value) fits none of its schema's alternatives")
        }
        if let constant = schema["const"], !value.sameJSON(as: constant) { problems.append("\(location): \(value) is not \(constant)") }
        if let choices = schema["enum"]?.array, !choices.contains(where: value.sameJSON) { problems.append("\(location): \(value) is not one of \(DocumentTree.array(choices))") }
        if let type = schema["type"] {
            let types = type.array?.compactMap(\.string) ?? [type.string ?? "?"]
            guard types.contains(where: value.isOf) else {
                return problems + ["\(location): \(value) is not of type \(types.joined(separator: " or "))"]
            }
        }
        switch value {
        case .object(let members):
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where members[name] == nil {
                problems.append("\(location): the required property \(name) is missing")
            }
            let properties = schema["properties"]?.object ?? [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    problems += self.schemaProblems(member, property, at: "\(location).\(name)")
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        problems.append("\(location).\(name): not allowed")
                    } else if additional.object != nil {
                        problems += self.schemaProblems(member, additional, at: "\(location).\(name)")
                    }
                } else if !properties.isEmpty {
                    problems.append("\(location).\(name): a property the schema does not describe")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { problems += self.schemaProblems(item, itemSchema, at: "\(location)[\(index)]") }
            }
            if let minimum = schema["minItems"]?.int, items.count < minimum { problems.append("\(location): fewer than \(minimum) items") }
            if let maximum = schema["maxItems"]?.int, items.count > maximum { problems.append("\(location): more than \(maximum) items") }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minimum = schema["minLength"]?.int, length < minimum { problems.append("\(location): '\(text)' is shorter than \(minimum)") }
            if let maximum = schema["maxLength"]?.int, length > maximum { problems.append("\(location): '\(text.prefix(40))…' is longer than \(maximum)") }
            if let pattern = schema["pattern"]?.string {
                if let expression = try? NSRegularExpression(pattern: pattern) {
                    if expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                        problems.append("\(location): '\(text)' does not match \(pattern)")
                    }
                } else {
                    problems.append("\(location): the pattern \(pattern) is not a regular expression")
                }
            }
        case .int, .double:
            let number = value.number ?? 0
            if let minimum = schema["minimum"]?.number, number < minimum { problems.append("\(location): \(value) is below \(minimum)") }
            if let maximum = schema["maximum"]?.number, number > maximum { problems.append("\(location): \(value) is above \(maximum)") }
            if let bound = schema["exclusiveMinimum"]?.number, number <= bound { problems.append("\(location): \(value) is not above \(bound)") }
            if let bound = schema["exclusiveMaximum"]?.number, number >= bound { problems.append("\(location): \(value) is not below \(bound)") }
        default:
            break
        }
        return problems
    }
}
