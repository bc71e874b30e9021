/// Why a list of ``RateLimitItem``s cannot be decided: a value is out of range. Nothing was sent to Redis.
///
/// ``field`` names the offending field and ``index`` the item; ``description`` says what is accepted.
public struct RateLimitItemError: Error, CustomStringConvertible, Sendable, Hashable {
    /// A field of ``RateLimitItem`` (or the item list itself) that can be invalid.
    public struct Field: Hashable, Sendable, CustomStringConvertible {
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
        public static let items = Field(.items)
        /// ``RateLimitItem/key``: empty, or used by two items of one decision.
        public static let key = Field(.key)
        /// ``RateLimitItem/limit``.
        public static let limit = Field(.limit)
        /// ``RateLimitItem/period``.
        public static let period = Field(.period)
        /// ``RateLimitItem/burst``.
        public static let burst = Field(.burst)
        /// ``RateLimitItem/cost``.
        public static let cost = Field(.cost)

        /// The field's name as in ``RateLimitItem``.
        public var description: String {
            self.base.rawValue
        }
    }

    /// The invalid field.
    public let field: Field
    /// The position of the invalid item in the list, or `nil` when the list itself is invalid.
    public let index: Int?
    /// What is wrong and what is accepted.
    public let description: String

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
