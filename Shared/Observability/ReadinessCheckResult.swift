/// What one ``ReadinessCheck`` reported.
public struct ReadinessCheckResult: Sendable, Equatable {
    /// How a check ended.
    public enum Outcome: Sendable, Equatable {
        /// The check returned `true`.
        case passed
        /// The check returned `false`.
        case failed
        /// The check threw; the associated value describes the error.
        case threw(String)
        /// The check did not finish within the given timeout.
        case timedOut(Duration)
    }

    /// The check's name.
    public let name: String
    /// How the check ended.
    public let outcome: Outcome

    /// Creates a result.
    ///
    /// - Parameters:
    ///   - name: The check's name.
    ///   - outcome: How the check ended.
    public init(name: String, outcome: Outcome) {
        self.name = name
        self.outcome = outcome
    }

    /// Whether the check passed.
    public var passed: Bool {
        self.outcome == .passed
    }
}
