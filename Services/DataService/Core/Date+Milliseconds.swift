import Foundation

extension Date {
    /// Milliseconds since 1970-01-01 UTC, the unit of every timestamp in the document store.
    var millisecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }
}
