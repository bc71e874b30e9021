import Logging
import Synchronization

/// Keeps every line a logger writes (message and metadata), so a test can count what a server logged.
final class LogRecorder: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])

    /// A logger at `debug` that writes here.
    var logger: Logger {
        var logger = Logger(label: "test.recorded") { _ in RecordingHandler(recorder: self) }
        logger.logLevel = .debug
        return logger
    }

    /// The lines logged so far with this message.
    func lines(_ message: String) -> [Line] {
        self.lines.withLock { $0.filter { $0.message == message } }
    }

    fileprivate func append(_ line: Line) {
        self.lines.withLock { $0.append(line) }
    }
}

private struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.recorder.append(.init(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }
}
