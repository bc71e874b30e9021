import ArgumentParser
import Foundation
import GatehouseConfig
import GatehouseObservability

/// `--config`, shared by every subcommand of a service's executable: the configuration file, with the
/// service's environment variables over it.
public struct ConfigOptions<Service: LaunchableService>: ParsableArguments, Sendable {
    @Option(name: .long, help: "YAML configuration file; \(Service.Setup.environmentPrefix)_* environment variables override it.")
    var config: String?

    /// Creates the options (ArgumentParser fills them in).
    public init() {}

    /// Reads what a command needs from the configuration; a configuration that cannot be read ends the
    /// process with `EX_CONFIG` (78) after printing why.
    /// - Parameter read: Reads from the file and environment, and opens what they name.
    /// - Returns: What `read` returned.
    /// - Throws: `ExitCode(78)`, after printing `<command>: cannot start:` and the error to standard error.
    public func load<Value>(_ read: (inout ConfigDocument) async throws -> Value) async throws -> Value {
        do {
            var document = try ConfigDocument.load(path: self.config, environment: ProcessInfo.processInfo.environment, prefix: Service.Setup.environmentPrefix)
            return try await read(&document)
        } catch {
            throw Self.exit(error)
        }
    }

    /// Prints why the service cannot start and returns `EX_CONFIG` (78) to exit with.
    /// - Parameter error: What was wrong with the configuration.
    /// - Returns: `ExitCode(78)`.
    static func exit(_ error: any Error) -> ExitCode {
        FileHandle.standardError.write(Data("\(Service.identity.commandName): cannot start:\n\(error)\n".utf8))
        return ExitCode(78)  // EX_CONFIG
    }
}
