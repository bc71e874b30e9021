/// Something about the configuration that the operator should hear of but that does not stop the start: a
/// deprecated key, or an environment variable ignored as a Kubernetes service link.
///
/// ``ConfigDocument`` collects them in ``ConfigDocument/notices``; the service logs them once logging is set up.
public struct ConfigNotice: Sendable, Hashable, CustomStringConvertible {
    /// How loudly to log it.
    public enum Severity: Sendable, Hashable {
        /// Expected and harmless (a service-link variable that maps to no key).
        case debug
        /// Worth a look (a deprecated key, a service link that shadows a key).
        case warning
    }

    /// How loudly to log it.
    public let severity: Severity
    /// What happened, naming the key or variable.
    public let message: String

    /// The message.
    public var description: String { self.message }
}
