/// Where a configuration value came from: a line of a YAML file or an environment variable.
///
/// Used in ``ConfigError`` messages so that an operator can find the value to fix.
enum ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    /// A YAML document; `source` is the file path (or the label given to ``ConfigDocument/init(yaml:source:)``)
    /// and `line` the 1-based line, when the YAML parser reported one.
    case file(source: String, line: Int?)
    /// An environment variable, by name.
    case environment(variable: String)

    /// `limiter.yaml:12`, `limiter.yaml` or `environment variable LIMITER_REDIS_PORT`.
    var description: String {
        switch self {
        case .file(let source, let line?):
            return "\(source):\(line)"
        case .file(let source, nil):
            return source
        case .environment(let variable):
            return "environment variable \(variable)"
        }
    }
}
