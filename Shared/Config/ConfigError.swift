/// Why a configuration could not be loaded or a value could not be read.
///
/// The ``description`` is written for the operator: it names the file and line or the environment
/// variable, the key, the offending value and what would have been accepted, for example
/// `limiter.yaml:12: key 'redis.port': expected an integer in 1...65535, got "abc"`.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// A key of the file or an environment variable that the service does not know.
    struct UnknownEntry: Sendable {
        /// Where the entry was found.
        let location: ConfigLocation
        /// The dotted key or, for an environment variable, the variable name.
        let name: String
        /// The closest valid key or variable name, when one is close enough to be a likely typo.
        let suggestion: String?
    }

    private enum Kind: Sendable {
        case fileNotFound(path: String)
        case fileUnreadable(path: String, reason: String)
        case syntax(source: String, line: Int?, column: Int?, problem: String)
        case topLevelNotMapping(source: String, found: String)
        case invalidStructure(location: ConfigLocation, key: String, problem: String)
        case invalidValue(location: ConfigLocation, key: String, expected: String, got: String)
        case unknownEntries([UnknownEntry])
        case missingRequired(key: String, variable: String?)
        case renamedKeyConflict(old: String, oldLocation: ConfigLocation, new: String, newLocation: ConfigLocation)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    static func fileNotFound(path: String) -> ConfigError {
        ConfigError(.fileNotFound(path: path))
    }

    static func fileUnreadable(path: String, reason: String) -> ConfigError {
        ConfigError(.fileUnreadable(path: path, reason: reason))
    }

    static func syntax(source: String, line: Int?, column: Int?, problem: String) -> ConfigError {
        ConfigError(.syntax(source: source, line: line, column: column, problem: problem))
    }

    static func topLevelNotMapping(source: String, found: String) -> ConfigError {
        ConfigError(.topLevelNotMapping(source: source, found: found))
    }

    static func invalidStructure(location: ConfigLocation, key: String, problem: String) -> ConfigError {
        ConfigError(.invalidStructure(location: location, key: key, problem: problem))
    }

    static func invalidValue(location: ConfigLocation, key: String, expected: String, got: String) -> ConfigError {
        ConfigError(.invalidValue(location: location, key: key, expected: expected, got: got))
    }

    static func unknownEntries(_ entries: [UnknownEntry]) -> ConfigError {
        ConfigError(.unknownEntries(entries))
    }

    static func missingRequired(key: String, variable: String?) -> ConfigError {
        ConfigError(.missingRequired(key: key, variable: variable))
    }

    static func renamedKeyConflict(old: String, oldLocation: ConfigLocation, new: String, newLocation: ConfigLocation) -> ConfigError {
        ConfigError(.renamedKeyConflict(old: old, oldLocation: oldLocation, new: new, newLocation: newLocation))
    }

    /// A message that says what is wrong and where, one line per problem.
    public var description: String {
        switch self.kind {
        case .fileNotFound(let path):
            return "configuration file '\(path)' does not exist; create it or point the service at an existing file"
        case .fileUnreadable(let path, let reason):
            return "configuration file '\(path)' could not be read: \(reason)"
        case .syntax(let source, let line, let column, let problem):
            let position = [line.map { ":\($0)" }, column.map { ":\($0)" }].compactMap { $0 }.joined()
            return "\(source)\(position): YAML syntax error: \(problem)"
        case .topLevelNotMapping(let source, let found):
            return "\(source): the top level must be a mapping of keys to values (key: value), found \(found)"
        case .invalidStructure(let location, let key, let problem):
            return "\(location): key '\(key)': \(problem)"
        case .invalidValue(let location, let key, let expected, let got):
            return "\(location): key '\(key)': expected \(expected), got \(got)"
        case .missingRequired(let key, let variable):
            return "key '\(key)' is required and has no default: set it in the configuration file"
                + (variable.map { " or in the environment variable \($0)" } ?? "")
        case .renamedKeyConflict(let old, let oldLocation, let new, let newLocation):
            return "\(oldLocation): key '\(old)' was renamed '\(new)', which is set too (\(newLocation)): remove '\(old)'"
        case .unknownEntries(let entries):
            return entries.map { entry in
                let what: String
                switch entry.location {
                case .file:
                    what = "unknown key '\(entry.name)'"
                case .environment:
                    what = "environment variable \(entry.name) does not match any configuration key"
                }
                let hint = entry.suggestion.map { "; did you mean '\($0)'?" } ?? ""
                switch entry.location {
                case .file:
                    return "\(entry.location): \(what)\(hint)"
                case .environment:
                    return "\(what)\(hint)"
                }
            }.joined(separator: "\n")
        }
    }
}
