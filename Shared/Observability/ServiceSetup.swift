import GatehouseConfig

/// A service's configuration as its file and environment variables give it, before the files it names are
/// loaded.
public protocol ServiceConfiguration: Sendable {
    /// The prefix of the environment variables that override the file's keys, e.g. `LIMITER`.
    static var environmentPrefix: String { get }

    /// Reads the configuration.
    /// - Parameter document: The file and environment.
    /// - Throws: An error whose description names every problem; the executable exits with `EX_CONFIG` (78).
    init(reading document: inout ConfigDocument) throws

    /// Logs and admin server.
    var observability: ObservabilityConfiguration { get }
}

/// What a service is set up from: its configuration and the files it names, read and checked before
/// anything starts, so that `--check-config` and a start-up refuse the same mistakes. A service whose
/// configuration names no files is set up from its configuration alone; one whose configuration does is set
/// up from a ``ConfigurationWithFiles``.
public protocol ServiceSetup: ServiceConfiguration {
    /// What `--check-config` prints after the executable's name, e.g. `configuration ok (3 policies)`.
    var checkSummary: String { get }
}

extension ServiceSetup {
    /// `configuration ok`.
    public var checkSummary: String { "configuration ok" }
}
