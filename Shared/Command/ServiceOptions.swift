import ArgumentParser
import GatehouseConfig
import GatehouseObservability
import Logging

/// The options of a service's `serve` command (`--config`, `--check-config`) and the start-up every service
/// shares: read and check the configuration, set up logging and metrics, wire the service, run it until
/// `SIGTERM`/`SIGINT`.
public struct ServiceOptions<Service: LaunchableService>: ParsableArguments, Sendable {
    @OptionGroup var configOptions: ConfigOptions<Service>

    @Flag(name: .customLong("check-config"), help: "Check the configuration (file, variables and the files it names), print 'configuration ok' or each problem, and exit without listening.")
    var checkConfig = false

    /// Creates the options (ArgumentParser fills them in).
    public init() {}

    /// Checks the configuration (and stops there with `--check-config`), then starts the service and returns
    /// after its graceful shutdown.
    ///
    /// A configuration that cannot be read, names a file that does not load, or names something that cannot
    /// be opened (``UnusableConfiguration``) ends the process with `EX_CONFIG` (78) after printing why.
    /// - Throws: `ExitCode(78)` for the configuration; the error of a service that failed.
    public func launch() async throws {
        var notices: [ConfigNotice] = []
        let setup = try await self.configOptions.load { document in
            defer { notices = document.notices }
            return try Service.Setup(reading: &document)
        }
        if self.checkConfig {
            for notice in notices where notice.severity == .warning { print("\(Service.identity.commandName): warning: \(notice)") }
            print("\(Service.identity.commandName): \(setup.checkSummary)")
            return
        }
        LoggingBootstrap.bootstrap(format: setup.observability.logFormat, level: setup.observability.logLevel)
        let registry = MetricsBootstrap.bootstrap(durationBuckets: Service.durationBuckets)
        let logger = Logger(label: Service.identity.logLabel)
        logger.log(configNotices: notices)
        let service: Service
        do {
            service = try await Service.make(setup: setup, registry: registry, signals: .trapped, logger: logger)
        } catch let error as UnusableConfiguration {
            throw ConfigOptions<Service>.exit(error)
        }
        try await service.run()
    }
}
