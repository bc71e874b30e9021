import Logging

/// Installs the process-wide swift-log backend in the chosen ``LogFormat``.
public enum LoggingBootstrap {
    /// Bootstraps `LoggingSystem` once per process with a text or JSON handler on standard error.
    ///
    /// `LoggingSystem.bootstrap` may run only once per process: call this at the start of `main`, never from
    /// a library or a test.
    ///
    /// - Parameters:
    ///   - format: ``LogFormat/text`` for swift-log's `StreamLogHandler`, ``LogFormat/json`` for ``JSONLogHandler``.
    ///   - level: The minimum level of every logger.
    ///   - metadataProvider: Contextual metadata (for example a request id from a task-local) for every record.
    public static func bootstrap(format: LogFormat, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        LoggingSystem.bootstrap(
            { label, provider in Self.makeHandler(format: format, level: level, label: label, metadataProvider: provider) },
            metadataProvider: metadataProvider
        )
    }

    /// Creates the handler ``bootstrap(format:level:metadataProvider:)`` installs, for use with `Logger(label:factory:)`.
    ///
    /// - Parameters:
    ///   - format: The output format.
    ///   - level: The handler's minimum level.
    ///   - label: The logger's label.
    ///   - metadataProvider: Contextual metadata for every record, or `nil`.
    public static func makeHandler(
        format: LogFormat,
        level: Logger.Level,
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        var handler: any LogHandler
        switch format {
        case .text:
            handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
        case .json:
            handler = JSONLogHandler(label: label, metadataProvider: metadataProvider)
        }
        handler.logLevel = level
        return handler
    }
}
