import ArgumentParser
import GatehouseObservability

/// The executable of a service that only serves (`limiter`, `edge-router`): its name and help from the
/// service's ``ServiceIdentity``, the options of ``ServiceOptions`` at the top, and the shared start-up.
///
/// The executable's `main` runs it: `await ServiceCommand<LimiterService>.main()`.
public struct ServiceCommand<Service: LaunchableService>: AsyncParsableCommand {
    /// The executable's name, abstract and discussion.
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Service.identity.commandName, abstract: Service.identity.abstract, discussion: Service.identity.discussion)
    }

    @OptionGroup var options: ServiceOptions<Service>

    /// Creates the command (ArgumentParser fills in its options).
    public init() {}

    /// Checks the configuration, then serves until graceful shutdown (``ServiceOptions/launch()``).
    public func run() async throws {
        try await self.options.launch()
    }
}
