/// How log records are written: human-readable text or one JSON object per line.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's `StreamLogHandler` format on standard error, for people reading a terminal.
    case text
    /// One JSON object per line on standard error (see ``JSONLogHandler``), for log collectors.
    case json
}
