import Foundation
import Logging

/// Formats one log record as a single-line JSON object; the pure half of ``JSONLogHandler``.
///
/// The object has the fields `ts` (ISO-8601 UTC with milliseconds, `2024-05-01T12:00:00.123Z`),
/// `level` (`trace` … `critical`), `label` (the logger's label), `msg`, `error` when the record carries
/// one, then the metadata sorted by key. Nested metadata dictionaries are flattened with `.`
/// (`["request": ["id": "42"]]` becomes `"request.id":"42"`); arrays become JSON arrays; every other
/// value is written as a string. A metadata key that collides with a fixed field is written as `metadata.KEY`.
public enum JSONLogFormatter {
    /// The names of the fixed fields, which metadata keys may not take.
    private static let reservedKeys: Set<String> = ["ts", "level", "label", "msg", "error"]

    /// Returns the JSON object for one record, without a trailing newline.
    ///
    /// - Parameters:
    ///   - timestamp: When the record was made.
    ///   - level: The record's level.
    ///   - label: The logger's label.
    ///   - message: The message text.
    ///   - metadata: The merged metadata of the logger, its metadata provider and the call.
    ///   - error: The error attached to the record, written as `String(describing:)`.
    public static func format(
        timestamp: Date,
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata,
        error: (any Error)? = nil
    ) -> String {
        var output = "{\"ts\":\""
        output.append(Self.iso8601(timestamp))
        output.append("\",\"level\":\"")
        output.append(level.rawValue)
        output.append("\",\"label\":")
        JSONString.append(label, to: &output)
        output.append(",\"msg\":")
        JSONString.append(message, to: &output)
        if let error {
            output.append(",\"error\":")
            JSONString.append(String(describing: error), to: &output)
        }
        var flattened: [(key: String, value: Logger.MetadataValue)] = []
        Self.flatten(metadata, prefix: "", into: &flattened)
        for (key, value) in flattened.sorted(by: { $0.key < $1.key }) {
            output.append(",")
            JSONString.append(Self.reservedKeys.contains(key) ? "metadata." + key : key, to: &output)
            output.append(":")
            Self.append(value, to: &output)
        }
        output.append("}")
        return output
    }

    /// `2024-05-01T12:00:00.123Z`: UTC, millisecond precision, rounded down.
    ///
    /// The time is first rounded to whole microseconds so that binary floating-point noise
    /// (`-0.001` stored as `-0.0010000000000000002`) does not move it into the previous millisecond.
    static func iso8601(_ date: Date) -> String {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
        // Clamp to what Int64 holds (about ±292,000 years) so no Date can trap the conversion.
        let totalMicroseconds = microseconds.isNaN ? 0 : Int64(min(max(microseconds, -9.2e18), 9.2e18))
        let totalMilliseconds = Self.floorDivide(totalMicroseconds, 1000).quotient
        let (days, millisecondOfDay) = Self.floorDivide(totalMilliseconds, 86_400_000)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let hour = millisecondOfDay / 3_600_000
        let minute = millisecondOfDay / 60_000 % 60
        let second = millisecondOfDay / 1000 % 60
        let millisecond = millisecondOfDay % 1000
        return Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2) + "T"
            + Self.pad(hour, 2) + ":" + Self.pad(minute, 2) + ":" + Self.pad(second, 2) + "."
            + Self.pad(millisecond, 3) + "Z"
    }

    private static func flatten(
        _ metadata: Logger.Metadata,
        prefix: String,
        into output: inout [(key: String, value: Logger.MetadataValue)]
    ) {
        for (key, value) in metadata {
            let fullKey = prefix.isEmpty ? key : prefix + "." + key
            if case .dictionary(let nested) = value {
                Self.flatten(nested, prefix: fullKey, into: &output)
            } else {
                output.append((fullKey, value))
            }
        }
    }

    private static func append(_ value: Logger.MetadataValue, to output: inout String) {
        switch value {
        case .string(let string):
            JSONString.append(string, to: &output)
        case .stringConvertible(let convertible):
            JSONString.append(convertible.description, to: &output)
        case .array(let values):
            output.append("[")
            for (index, element) in values.enumerated() {
                if index > 0 { output.append(",") }
                Self.append(element, to: &output)
            }
            output.append("]")
        case .dictionary(let dictionary):
            output.append("{")
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { output.append(",") }
                JSONString.append(key, to: &output)
                output.append(":")
                if let element = dictionary[key] {
                    Self.append(element, to: &output)
                }
            }
            output.append("}")
        }
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
