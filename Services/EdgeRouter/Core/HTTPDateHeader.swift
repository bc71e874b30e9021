#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header's value (IMF-fixdate, RFC 9110 §5.6.7, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once a second: each connection keeps one.
struct HTTPDateHeader {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private var second: time_t = -1
    private var formatted = ""

    /// The value for the current second.
    mutating func current() -> String {
        self.value(at: time(nil))
    }

    /// The value for `second` (seconds since the Unix epoch).
    mutating func value(at second: time_t) -> String {
        guard second != self.second else { return self.formatted }
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        self.formatted = "\(Self.weekdays[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
        self.second = second
        return self.formatted
    }
}
