/// A policy file the limiter cannot use; lists every problem, each with its line and field.
///
/// For example: `limiter-policies.yaml:7: policies[1].algorithm: unknown algorithm "leaky"; expected
/// one of gcra, token_bucket, sliding_window, fixed_window`.
public struct PolicyFileError: Error, Sendable, CustomStringConvertible {
    /// One line per problem, in file order.
    public let problems: [String]

    init(problems: [String]) {
        self.problems = problems
    }

    init(_ problem: String) {
        self.problems = [problem]
    }

    /// The problems, one per line.
    public var description: String { self.problems.joined(separator: "\n") }
}
