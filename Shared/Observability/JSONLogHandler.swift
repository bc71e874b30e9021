import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A `LogHandler` that writes each record as one JSON object per line to standard error.
///
/// Standard error keeps standard output free for a program's own output and matches swift-log's
/// text handler. The line format is ``JSONLogFormatter``'s. Every line, newline included, is handed
/// to the operating system in a single `write(2)` call under a process-wide lock, so lines from
/// concurrent loggers never interleave.
public struct JSONLogHandler: LogHandler {
    /// The minimum level this handler logs; `info` by default.
    public var logLevel: Logger.Level = .info

    /// Metadata added to every record of this handler.
    public var metadata: Logger.Metadata = [:]

    /// Supplies contextual metadata (for example from task-locals) for every record.
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String

    /// Creates a handler for the logger called `label`.
    ///
    /// - Parameters:
    ///   - label: The logger's label, written as the `label` field.
    ///   - metadataProvider: Contextual metadata for every record, or `nil`.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    /// Gets or sets one metadata value of this handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    /// Formats the record and writes it to standard error as one line.
    public func log(event: LogEvent) {
        StandardErrorWriter.write(self.line(for: event, at: Date()) + "\n")
    }

    /// The JSON line (without newline) this handler writes for `event`.
    ///
    /// The call's metadata wins over the metadata provider's, which wins over the handler's own.
    ///
    /// - Parameters:
    ///   - event: The log record.
    ///   - timestamp: The time written as `ts`.
    public func line(for event: LogEvent, at timestamp: Date) -> String {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let callMetadata = event.metadata, !callMetadata.isEmpty {
            merged.merge(callMetadata) { _, new in new }
        }
        return JSONLogFormatter.format(
            timestamp: timestamp,
            level: event.level,
            label: self.label,
            message: event.message.description,
            metadata: merged,
            error: event.error
        )
    }
}

/// Serialises whole lines onto standard error.
enum StandardErrorWriter {
    private static let lock = Mutex(())

    /// Writes `line` with one `write(2)` call, continuing only after a partial write or `EINTR`.
    static func write(_ line: String) {
        var line = line
        line.withUTF8 { buffer in
            Self.lock.withLock { _ in
                var offset = 0
                while offset < buffer.count {
                    let written = Self.systemWrite(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Darwin)
        return Darwin.write(descriptor, bytes, count)
        #elseif canImport(Musl)
        return Musl.write(descriptor, bytes, count)
        #else
        return Glibc.write(descriptor, bytes, count)
        #endif
    }
}
