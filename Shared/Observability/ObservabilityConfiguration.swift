import GatehouseConfig
import Logging

/// How a service logs and where it serves `/metrics`, `/healthz` and `/readyz`.
public struct ObservabilityConfiguration: Sendable {
    /// `text` for people, `json` (one object per line) for log pipelines.
    public var logFormat: LogFormat
    /// The lowest level logged.
    public var logLevel: Logger.Level
    /// The admin server's address; loopback by default, never the public interface.
    public var adminHost: String
    /// The admin server's port.
    public var adminPort: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - logFormat: Log line format (default `text`).
    ///   - logLevel: Lowest level logged (default `info`).
    ///   - adminHost: Admin address (default `127.0.0.1`).
    ///   - adminPort: Admin port.
    public init(logFormat: LogFormat = .text, logLevel: Logger.Level = .info, adminHost: String = "127.0.0.1", adminPort: Int) {
        self.logFormat = logFormat
        self.logLevel = logLevel
        self.adminHost = adminHost
        self.adminPort = adminPort
    }

    /// Reads `log.format`, `log.level`, `admin.host` and `admin.port` (docs/configuration.md, "Logs and admin").
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaultAdminPort: The service's own default admin port.
    /// - Throws: ``ConfigError`` naming the bad key.
    public init(reading document: inout ConfigDocument, defaultAdminPort: Int) throws(ConfigError) {
        let format = try document.string("log.format", default: LogFormat.text.rawValue, allowed: LogFormat.allCases.map(\.rawValue))
        let level = try document.string("log.level", default: "info", allowed: Logger.Level.allCases.map(\.rawValue))
        let admin = try document.listenAddress("admin", defaultHost: "127.0.0.1", defaultPort: defaultAdminPort)
        self.init(logFormat: LogFormat(rawValue: format) ?? .text, logLevel: Logger.Level(rawValue: level) ?? .info, adminHost: admin.host, adminPort: admin.port)
    }
}
