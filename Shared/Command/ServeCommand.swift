import ArgumentParser
import GatehouseObservability

/// `serve`, the default subcommand of an executable whose other subcommands manage the service's data
/// (`data-service seed`, `auth-issuer users add`): the options of ``ServiceOptions`` and the shared start-up,
/// with ``ServiceIdentity/serveAbstract`` as its help.
public struct ServeCommand<Service: LaunchableService>: AsyncParsableCommand {
    /// `serve` and its help line.
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "serve", abstract: Service.identity.serveAbstract ?? "")
    }

    /// The configuration of the executable itself: its name and help from the service's ``ServiceIdentity``,
    /// `serve` as its default subcommand, then the subcommands that manage the service's data.
    /// - Parameter management: Those subcommands, in the order its help lists them.
    /// - Returns: The executable's configuration.
    public static func executable(managedBy management: [any ParsableCommand.Type]) -> CommandConfiguration {
        CommandConfiguration(
            commandName: Service.identity.commandName, abstract: Service.identity.abstract, discussion: Service.identity.discussion,
            subcommands: [Self.self] + management, defaultSubcommand: Self.self
        )
    }

    @OptionGroup var options: ServiceOptions<Service>

    /// Creates the command (ArgumentParser fills in its options).
    public init() {}

    /// Checks the configuration, then serves until graceful shutdown (``ServiceOptions/launch()``).
    public func run() async throws {
        try await self.options.launch()
    }
}
