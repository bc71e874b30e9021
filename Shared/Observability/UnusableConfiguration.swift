/// The configuration was read, but something it names cannot be used (a database file that does not open):
/// like a configuration error, the executable reports it and exits with `EX_CONFIG` (78).
public struct UnusableConfiguration: Error, CustomStringConvertible {
    /// Why it cannot be used.
    public let underlying: any Error

    /// Wraps the error of opening what the configuration names.
    /// - Parameter underlying: The error, printed as it is.
    public init(_ underlying: any Error) {
        self.underlying = underlying
    }

    /// The underlying error's description.
    public var description: String {
        "\(self.underlying)"
    }
}
