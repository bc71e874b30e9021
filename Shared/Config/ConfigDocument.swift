import Foundation
import Yams

/// A service's configuration source: a YAML file flattened to dotted keys, overlaid with environment variables.
///
/// Each service keeps its configuration as a plain `Sendable` struct with defaults in code and fills it
/// from a `ConfigDocument` with the typed accessors (``string(_:default:allowed:)``,
/// ``int(_:default:range:)``, ``double(_:default:range:)``, ``bool(_:default:)``,
/// ``duration(_:default:range:)``, ``stringList(_:default:)``). Every accessor throws a ``ConfigError``
/// that names the file and line or the environment variable, the key, the bad value and what was expected.
///
/// ## Keys
/// Nested YAML mappings are flattened with `.`: the file
/// ```yaml
/// redis:
///   port: 6379
///   command_timeout_ms: 250
/// ```
/// defines the keys `redis.port` and `redis.command_timeout_ms`. A dotted key may also be written
/// directly (`redis.port: 6379`); defining the same key twice is an error. A YAML sequence is the value
/// of a list key, and its items must be scalars. An empty value (`key:`, `~`, `null`) means "use the default".
///
/// ## Environment variables (12-factor overrides)
/// With the prefix `LIMITER`, the key `redis.port` is overridden by the variable `LIMITER_REDIS_PORT`:
/// the prefix, `_`, then the key upper-cased with every `.` replaced by `_`. An environment variable always
/// wins over the file. Its value is a string parsed to the type the accessor asks for: integers and
/// decimals as written, booleans as `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0` (any case), lists as
/// comma-separated items (surrounding spaces trimmed, an empty value is an empty list).
/// An empty prefix turns environment overrides off.
///
/// ## Strict keys
/// Call ``rejectUnknownKeys(valid:)`` once all values are read (for example with ``readKeys``):
/// a key in the file that the service does not know, or a variable starting with `PREFIX_` that maps
/// to no known key, is an error naming it and suggesting the closest valid key.
///
/// ## Kubernetes service links
/// Kubernetes gives every container variables for each Service of its namespace (``KubernetesServiceLink``):
/// a Service `limiter` makes `LIMITER_SERVICE_HOST`, `LIMITER_PORT=tcp://10.0.0.7:7101`, … So that these never
/// stop a service, two rules apply, and every other variable is read or refused as above:
/// - a variable under the prefix that maps to no key and has the name **and** value of a service link is
///   ignored (a `debug` notice);
/// - a variable that maps to a key ending in `.port` (its name ends in `_PORT`) and holds a service link's
///   address (`tcp://host:port`, `udp://…`, `sctp://…`) is ignored as well, with a `warning` notice naming it:
///   the Service `limiter-redis` makes `LIMITER_REDIS_PORT=tcp://…`, which is no port. The key keeps its file
///   value or default.
///
/// ## Renamed keys
/// ``acceptFormerName(_:of:)`` lets a key's old name still set it for a release, with a `warning` notice.
/// ``notices`` collects what the service should log once its logging is set up.
public struct ConfigDocument: Sendable {
    /// A value found in the YAML file for one flattened key.
    enum FileValue: Sendable {
        /// A scalar, with whether it was quoted in the file (a quoted value is always a string).
        case scalar(String, quoted: Bool)
        /// A sequence of scalars.
        case list([String])
        /// An explicitly empty value.
        case null
    }

    /// A flattened key of the YAML file, with its value and where it was written.
    struct FileEntry: Sendable {
        let value: FileValue
        let location: ConfigLocation
    }

    /// The value an accessor reads, after environment overrides were applied.
    enum ResolvedValue {
        case scalar(String, quoted: Bool)
        case list([String])
    }

    /// Flattened keys of the YAML file.
    let entries: [String: FileEntry]
    /// Environment variables whose names start with the prefix and `_`.
    let environment: [String: String]
    /// The upper-cased prefix of environment variables, or empty when overrides are off.
    let prefix: String

    /// The keys that the typed accessors have been asked for so far.
    ///
    /// Once every field of the service's configuration has been read, `try document.rejectUnknownKeys(valid: document.readKeys)`
    /// rejects everything else.
    public private(set) var readKeys: Set<String> = []

    /// Deprecated keys used and environment variables ignored as Kubernetes service links, in the order
    /// met, each once: for the service to log (``rejectUnknownKeys(valid:)`` adds the ignored variables that
    /// map to no key).
    public private(set) var notices: [ConfigNotice] = []

    /// Keys that may still be set under a former name: the new name to the old one.
    private var formerNames: [String: String] = [:]

    /// Parses YAML text that has no environment overrides.
    ///
    /// - Parameters:
    ///   - yaml: The YAML text; its top level must be a mapping (an empty text is an empty mapping).
    ///   - source: The name used in error messages, usually the file path.
    /// - Throws: ``ConfigError`` for a syntax error, a top level that is not a mapping, a key defined twice
    ///   or a sequence item that is not a scalar.
    public init(yaml: String, source: String) throws(ConfigError) {
        try self.init(yaml: yaml, source: source, environment: [:], prefix: "")
    }

    /// Parses YAML text and keeps the environment variables that start with `prefix` and `_` as overrides.
    ///
    /// - Parameters:
    ///   - yaml: The YAML text; its top level must be a mapping (an empty text is an empty mapping).
    ///   - source: The name used in error messages, usually the file path.
    ///   - environment: The process environment, e.g. `ProcessInfo.processInfo.environment`.
    ///   - prefix: The service's variable prefix such as `LIMITER`; empty turns overrides off.
    /// - Throws: ``ConfigError`` as ``init(yaml:source:)`` does.
    public init(yaml: String, source: String, environment: [String: String], prefix: String) throws(ConfigError) {
        self.entries = try Self.flatten(yaml: yaml, source: source)
        let normalizedPrefix = prefix.uppercased()
        self.prefix = normalizedPrefix
        if normalizedPrefix.isEmpty {
            self.environment = [:]
        } else {
            self.environment = environment.filter { $0.key.hasPrefix(normalizedPrefix + "_") }
        }
    }

    /// Loads the YAML file at `path` (or nothing when `path` is `nil`) and applies environment overrides.
    ///
    /// - Parameters:
    ///   - path: The configuration file, or `nil` to configure from defaults and the environment only.
    ///   - environment: The process environment, e.g. `ProcessInfo.processInfo.environment`.
    ///   - prefix: The service's variable prefix such as `LIMITER`; empty turns overrides off.
    /// - Throws: ``ConfigError`` when the file does not exist, cannot be read or is not valid YAML of the
    ///   expected shape.
    public static func load(path: String?, environment: [String: String], prefix: String) throws(ConfigError) -> ConfigDocument {
        guard let path else {
            return try ConfigDocument(yaml: "", source: "<defaults>", environment: environment, prefix: prefix)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            throw .fileUnreadable(path: path, reason: "it is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .fileUnreadable(path: path, reason: "permission denied or I/O error")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .fileUnreadable(path: path, reason: "it is not UTF-8 text")
        }
        return try ConfigDocument(yaml: text, source: path, environment: environment, prefix: prefix)
    }

    /// The environment variable that overrides `key`: the prefix, `_`, then the key upper-cased with `.` → `_`.
    ///
    /// With the prefix `LIMITER`, `redis.port` maps to `LIMITER_REDIS_PORT`. Returns `nil` when overrides are off.
    public func environmentVariable(for key: String) -> String? {
        guard !self.prefix.isEmpty else { return nil }
        return self.prefix + "_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Fails if the file or the environment holds anything that is not one of `valid`.
    ///
    /// Every unknown key of the file and every variable starting with `PREFIX_` that maps to no valid key
    /// is listed in one error, each with the closest valid key or variable when one is likely meant. A
    /// variable that maps to no key but is a Kubernetes service link is not an error: it is ignored, with a
    /// `debug` notice.
    ///
    /// - Parameter valid: The dotted keys the service understands, e.g. ``readKeys``.
    /// - Throws: ``ConfigError`` listing the unknown keys and variables.
    public mutating func rejectUnknownKeys(valid: Set<String>) throws(ConfigError) {
        let sortedValid = valid.sorted()
        var unknown: [(line: Int, entry: ConfigError.UnknownEntry)] = []
        for (key, entry) in self.entries where !valid.contains(key) {
            let line: Int
            if case .file(_, let fileLine?) = entry.location {
                line = fileLine
            } else {
                line = 0
            }
            let suggestion = EditDistance.closest(to: key, among: sortedValid)
            unknown.append((line, .init(location: entry.location, name: key, suggestion: suggestion)))
        }
        unknown.sort { ($0.line, $0.entry.name) < ($1.line, $1.entry.name) }

        let validVariables = sortedValid.compactMap { self.environmentVariable(for: $0) }
        let knownVariables = Set(validVariables)
        for (variable, value) in self.environment.sorted(by: { $0.key < $1.key }) where !knownVariables.contains(variable) {
            if KubernetesServiceLink.matches(variable: variable, value: value) {
                self.note(.debug, "environment variable \(variable) is a Kubernetes service link, not a configuration key: ignored")
                continue
            }
            let suggestion = EditDistance.closest(to: variable, among: validVariables)
            unknown.append((Int.max, .init(location: .environment(variable: variable), name: variable, suggestion: suggestion)))
        }
        guard unknown.isEmpty else {
            throw .unknownEntries(unknown.map(\.entry))
        }
    }

    /// Lets `old`, a key's former name, still set `new` (for one release), with a `warning` notice naming both.
    ///
    /// Call it before reading `new`. When only `old` is set (in the file or its environment variable), `new`
    /// reads its value; `old` counts as read, so ``rejectUnknownKeys(valid:)`` does not refuse it.
    /// - Parameters:
    ///   - old: The former key, e.g. `fallback.policies_file`.
    ///   - new: The key that replaces it, e.g. `policies.file`.
    /// - Throws: ``ConfigError`` when both are set: which one is meant is not clear.
    public mutating func acceptFormerName(_ old: String, of new: String) throws(ConfigError) {
        guard let (_, oldLocation) = self.lookup(old) else { return }
        if let (_, newLocation) = self.lookup(new) {
            throw .renamedKeyConflict(old: old, oldLocation: oldLocation, new: new, newLocation: newLocation)
        }
        self.formerNames[new] = old
        let variable = self.environmentVariable(for: new).map { " (or \($0))" } ?? ""
        self.note(.warning, "\(oldLocation): key '\(old)' is deprecated and will be refused in the next release; set '\(new)'\(variable) instead")
    }

    /// Looks `key` up, environment first, records it as read, and returns `nil` when it is unset or empty.
    ///
    /// A variable of a key ending in `.port` that holds a Kubernetes service link's address is skipped (a
    /// `warning` notice): the file's value or the default applies. A key set under its former name
    /// (``acceptFormerName(_:of:)``) reads that.
    mutating func lookup(_ key: String) -> (value: ResolvedValue, location: ConfigLocation)? {
        self.readKeys.insert(key)
        if let variable = self.environmentVariable(for: key), let text = self.environment[variable] {
            guard variable.hasSuffix("_PORT"), KubernetesServiceLink.isAddressURL(text) else {
                return (.scalar(text, quoted: false), .environment(variable: variable))
            }
            self.note(
                .warning,
                "environment variable \(variable)=\(text) is a Kubernetes service link (of a Service named like the variable), not a port: "
                    + "ignored, so '\(key)' keeps its value from the file or its default. Set enableServiceLinks: false in the pod, "
                    + "or rename that Service, to silence this"
            )
        }
        guard let entry = self.entries[key] else {
            return self.formerNames[key].flatMap { self.lookup($0) }
        }
        switch entry.value {
        case .null:
            return self.formerNames[key].flatMap { self.lookup($0) }
        case .scalar(let text, let quoted):
            return (.scalar(text, quoted: quoted), entry.location)
        case .list(let items):
            return (.list(items), entry.location)
        }
    }
}

extension ConfigDocument {
    /// Adds a notice unless the same one is already there.
    private mutating func note(_ severity: ConfigNotice.Severity, _ message: String) {
        let notice = ConfigNotice(severity: severity, message: message)
        if !self.notices.contains(notice) { self.notices.append(notice) }
    }
}

// MARK: - YAML flattening

extension ConfigDocument {
    private static func flatten(yaml: String, source: String) throws(ConfigError) -> [String: FileEntry] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.syntaxError(error, source: source)
        } catch {
            throw .syntax(source: source, line: nil, column: nil, problem: String(describing: error))
        }
        guard let root else { return [:] }
        guard case .mapping(let mapping) = root else {
            throw .topLevelNotMapping(source: source, found: Self.describe(root))
        }
        var entries: [String: FileEntry] = [:]
        try Self.flatten(mapping: mapping, path: "", source: source, into: &entries)
        return entries
    }

    private static func flatten(
        mapping: Node.Mapping,
        path: String,
        source: String,
        into entries: inout [String: FileEntry]
    ) throws(ConfigError) {
        for (keyNode, valueNode) in mapping {
            let keyLocation = ConfigLocation.file(source: source, line: keyNode.mark?.line)
            guard case .scalar(let keyScalar) = keyNode, !keyScalar.string.isEmpty else {
                throw .invalidStructure(
                    location: keyLocation,
                    key: path.isEmpty ? "<top level>" : path,
                    problem: "keys must be non-empty strings, found \(Self.describe(keyNode))"
                )
            }
            let key = path.isEmpty ? keyScalar.string : path + "." + keyScalar.string
            let value: FileValue
            switch valueNode {
            case .mapping(let nested):
                try Self.flatten(mapping: nested, path: key, source: source, into: &entries)
                continue
            case .scalar(let scalar):
                if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                    value = .null
                } else {
                    value = .scalar(scalar.string, quoted: scalar.style != .plain)
                }
            case .sequence(let sequence):
                var items: [String] = []
                for item in sequence {
                    guard case .scalar(let itemScalar) = item else {
                        throw .invalidStructure(
                            location: .file(source: source, line: item.mark?.line ?? keyNode.mark?.line),
                            key: key,
                            problem: "list items must be scalars, found \(Self.describe(item))"
                        )
                    }
                    items.append(itemScalar.string)
                }
                value = .list(items)
            case .alias:
                throw .invalidStructure(location: keyLocation, key: key, problem: "YAML aliases are not supported")
            }
            if let previous = entries[key] {
                let first: String
                if case .file(_, let line?) = previous.location {
                    first = "line \(line)"
                } else {
                    first = "\(previous.location)"
                }
                throw .invalidStructure(location: keyLocation, key: key, problem: "defined twice (first on \(first))")
            }
            entries[key] = FileEntry(value: value, location: keyLocation)
        }
    }

    private static func syntaxError(_ error: YamlError, source: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text) (line \($0.mark.line)): \(problem)" } ?? problem
            return .syntax(source: source, line: mark.line, column: mark.column, problem: detail)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return .syntax(
                source: source,
                line: context.mark.line,
                column: context.mark.column,
                problem: "duplicate keys \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", "))"
            )
        default:
            return .syntax(source: source, line: nil, column: nil, problem: error.description)
        }
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            return "the scalar \(String(reflecting: scalar.string))"
        case .mapping:
            return "a mapping"
        case .sequence:
            return "a list"
        case .alias:
            return "an alias"
        }
    }
}
