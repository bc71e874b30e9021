import Foundation
import GatehouseObservability
import Logging
import Testing

@Suite("JSONLogFormatter")
struct JSONLogFormatterTests {
    private static let noon = Date(timeIntervalSince1970: 1_714_564_800.5)

    /// Decodes a line with Foundation's JSON parser, proving it is valid JSON.
    private func decode(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    @Test("fixed fields come first, in order")
    func fixedFields() {
        let line = JSONLogFormatter.format(timestamp: Self.noon, level: .info, label: "limiter", message: "started", metadata: [:])
        #expect(line == #"{"ts":"2024-05-01T12:00:00.500Z","level":"info","label":"limiter","msg":"started"}"#)
    }

    @Test("every level is written by its name", arguments: Logger.Level.allCases)
    func levels(level: Logger.Level) throws {
        let line = JSONLogFormatter.format(timestamp: Self.noon, level: level, label: "l", message: "m", metadata: [:])
        #expect(try self.decode(line)["level"] as? String == level.rawValue)
    }

    @Test("timestamps are UTC with milliseconds, rounded down, also before 1970")
    func timestamps() {
        let cases: [(TimeInterval, String)] = [
            (0, "1970-01-01T00:00:00.000Z"),
            (0.1239, "1970-01-01T00:00:00.123Z"),
            (-0.001, "1969-12-31T23:59:59.999Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (4_102_444_799.999, "2099-12-31T23:59:59.999Z"),
        ]
        for (seconds, expected) in cases {
            let line = JSONLogFormatter.format(
                timestamp: Date(timeIntervalSince1970: seconds), level: .info, label: "l", message: "m", metadata: [:])
            #expect(line.hasPrefix(#"{"ts":"\#(expected)""#))
        }
    }

    @Test("quotes, backslashes and control characters are escaped; other Unicode is kept")
    func escaping() throws {
        let message = "say \"hi\" \\ path\nnext\ttab\r\u{01}\u{7F}\u{2028} é 🚀"
        let line = JSONLogFormatter.format(timestamp: Self.noon, level: .info, label: "l\"x", message: message, metadata: [:])
        #expect(line.contains(#""msg":"say \"hi\" \\ path\nnext\ttab\r\u0001\u007f\u2028 é 🚀""#))
        #expect(line.contains(#""label":"l\"x""#))
        #expect(!line.contains("\n"))
        let decoded = try self.decode(line)
        #expect(decoded["msg"] as? String == message)
    }

    @Test("metadata is flattened with dots and sorted; arrays stay arrays; reserved names are prefixed")
    func metadata() throws {
        let metadata: Logger.Metadata = [
            "request": ["id": "r-1", "peer": ["ip": "127.0.0.1"]],
            "tags": ["a", ["b": "c"]],
            "count": .stringConvertible(42),
            "msg": "clash",
        ]
        struct Failure: Error, CustomStringConvertible {
            var description: String { "boom \"x\"" }
        }
        let line = JSONLogFormatter.format(
            timestamp: Self.noon, level: .error, label: "l", message: "m", metadata: metadata, error: Failure())
        #expect(line == #"{"ts":"2024-05-01T12:00:00.500Z","level":"error","label":"l","msg":"m","error":"boom \"x\"","#
            + #""count":"42","metadata.msg":"clash","request.id":"r-1","request.peer.ip":"127.0.0.1","tags":["a",{"b":"c"}]}"#)
        let decoded = try self.decode(line)
        #expect(decoded["request.peer.ip"] as? String == "127.0.0.1")
    }

    @Test("the handler merges its metadata, the provider's and the call's, the call winning")
    func handlerMetadata() {
        var handler = JSONLogHandler(label: "gate", metadataProvider: Logger.MetadataProvider { ["trace": "t", "k": "provider", "p": "1"] })
        handler[metadataKey: "k"] = "handler"
        handler[metadataKey: "h"] = "2"
        let event = LogEvent(
            level: .warning, message: "slow", error: nil, metadata: ["k": "call"],
            source: nil, file: #fileID, function: #function, line: #line)
        #expect(handler.line(for: event, at: Self.noon)
            == #"{"ts":"2024-05-01T12:00:00.500Z","level":"warning","label":"gate","msg":"slow","h":"2","k":"call","p":"1","trace":"t"}"#)
    }

    @Test("a Date far outside the calendar does not trap")
    func extremeDates() {
        let line = JSONLogFormatter.format(timestamp: .distantFuture, level: .info, label: "l", message: "m", metadata: [:])
        #expect(line.hasPrefix(#"{"ts":"4001-01-01T00:00:00.000Z""#))
        _ = JSONLogFormatter.format(timestamp: Date(timeIntervalSince1970: 1e300), level: .info, label: "l", message: "m", metadata: [:])
    }
}

@Suite("LoggingBootstrap")
struct LoggingBootstrapTests {
    @Test("each format makes its handler at the requested level", arguments: LogFormat.allCases)
    func handlers(format: LogFormat) {
        let handler = LoggingBootstrap.makeHandler(format: format, level: .notice, label: "svc")
        #expect(handler.logLevel == .notice)
        #expect((handler is JSONLogHandler) == (format == .json))
    }
}
