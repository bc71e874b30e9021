/// What a service is called and how its executable presents it, said once in its core: the executable's
/// name and help, and the label of the service's main logger.
public struct ServiceIdentity: Sendable {
    /// The executable's name, which starts every line it prints (`limiter: configuration ok`).
    public let commandName: String
    /// The label of the service's main logger, e.g. `gatehouse.limiter`.
    public let logLabel: String
    /// The first line of the executable's help.
    public let abstract: String
    /// The help's paragraph after the abstract.
    public let discussion: String
    /// The help line of `serve`, for an executable whose other subcommands manage the service's data (`serve`
    /// is then its default subcommand); `nil` for an executable that only serves, with its options at the top.
    public let serveAbstract: String?

    /// Describes a service.
    /// - Parameters:
    ///   - commandName: The executable's name.
    ///   - logLabel: The main logger's label.
    ///   - abstract: The first line of the executable's help.
    ///   - discussion: The help's paragraph after it.
    ///   - serveAbstract: The help line of `serve` when the executable has other subcommands.
    public init(commandName: String, logLabel: String, abstract: String, discussion: String, serveAbstract: String? = nil) {
        self.commandName = commandName
        self.logLabel = logLabel
        self.abstract = abstract
        self.discussion = discussion
        self.serveAbstract = serveAbstract
    }
}
