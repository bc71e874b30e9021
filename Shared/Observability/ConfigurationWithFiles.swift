import GatehouseConfig

/// A service's configuration that names files to load and check at start with it (the limiter's policy
/// file; the edge router's route and policy files): the service is set up from a ``ConfigurationWithFiles``.
public protocol ConfigurationNamingFiles: ServiceConfiguration {
    /// The files, as loaded.
    associatedtype Files: Sendable

    /// Loads and checks the files the configuration names.
    /// - Returns: The files.
    /// - Throws: The files' problems.
    func loadFiles() throws -> Files

    /// What `--check-config` says of the files, e.g. `3 policies`.
    /// - Parameter files: The files, as loaded.
    func checkSummary(of files: Files) -> String
}

/// What a service starts from when its configuration names files: the configuration and those files,
/// loaded and checked together.
public struct ConfigurationWithFiles<Configuration: ConfigurationNamingFiles>: ServiceSetup {
    /// The configuration.
    public let configuration: Configuration
    /// The files it names, as loaded at start.
    public let files: Configuration.Files

    /// The configuration's prefix.
    public static var environmentPrefix: String { Configuration.environmentPrefix }

    /// Reads the configuration, then loads the files it names.
    /// - Parameter document: The file and environment.
    /// - Throws: The configuration's or the files' problems.
    public init(reading document: inout ConfigDocument) throws {
        self.configuration = try Configuration(reading: &document)
        self.files = try self.configuration.loadFiles()
    }

    /// The configuration's logs and admin server.
    public var observability: ObservabilityConfiguration { self.configuration.observability }

    /// `configuration ok` and what the files hold, e.g. `configuration ok (3 policies)`.
    public var checkSummary: String { "configuration ok (\(self.configuration.checkSummary(of: self.files)))" }
}
