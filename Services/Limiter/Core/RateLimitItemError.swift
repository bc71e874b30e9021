/// Why a list of ``RateLimitItem``s cannot be decided: a value is out of range. Nothing was sent to Redis.
///
/// ``field`` names the offending field and ``index`` the item; ``description`` says what is accepted.
package struct RateLimitItemError: Error, CustomStringConvertible, Sendable, Hashable {
    /// A field of ``RateLimitItem`` (or the item list itself) that can be invalid.
    package struct Field: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case items
            case key
            case limit
            case period
            case burst
            case cost
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The item list: it is empty.
        package static let items = Field(.items)
        /// ``RateLimitItem/key``: empty, or used by two items of one decision.
        package static let key = Field(.key)
        /// ``RateLimitItem/limit``.
        package static let limit = Field(.limit)
        /// ``RateLimitItem/period``.
        package static let period = Field(.period)
        /// ``RateLimitItem/burst``.
        package static let burst = Field(.burst)
        /// ``RateLimitItem/cost``.
        package static let cost = Field(.cost)

        /// The field's name as in ``RateLimitItem``.
        package var description: String {
            self.base.rawValue
        }
    }

    /// The invalid field.
    package let field: Field
    /// The position of the invalid item in the list, or `nil` when the list itself is invalid.
    package let index: Int?
    /// What is wrong and what is accepted.
    package let description: String

    init(field: Field, index: Int?, reason: String) {
        self.field = field
        self.index = index
        if let index {
            self.description = "Rate-limit item \(index): \(field) \(reason)"
        } else {
            self.description = "Rate-limit \(field): \(reason)"
        }
    }
}
