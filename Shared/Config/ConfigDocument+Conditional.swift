// Accessors for keys whose presence or value depends on another key, such as `redis.sentinel.addresses`,
// which sentinel mode requires and the other modes refuse.

extension ConfigDocument {
    /// Reads a list of strings that has no default: at least one item, each passing `isValid`.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.sentinel.addresses`.
    ///   - expected: What a valid item is, for the error (e.g. "host:port addresses").
    ///   - isValid: Whether one item is acceptable.
    /// - Throws: ``ConfigError`` when the list is unset or empty (naming the environment variable that can
    ///   supply it), or as ``stringList(_:default:expected:eachMatching:)``.
    public mutating func requiredStringList(
        _ key: String,
        expected: String,
        eachMatching isValid: (String) -> Bool
    ) throws(ConfigError) -> [String] {
        let items = try self.stringList(key, default: [], expected: expected, eachMatching: isValid)
        guard !items.isEmpty else {
            throw .missingRequired(key: key, variable: self.environmentVariable(for: key))
        }
        return items
    }

    /// Refuses `key` when it has a value (an empty one counts as unset): for a key that the rest of the
    /// configuration makes meaningless.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.sentinel.master_name`.
    ///   - reason: Why it must not be set, e.g. "only read when redis.mode is sentinel".
    /// - Throws: ``ConfigError`` naming the key, where it was set, and `reason`.
    public mutating func refuse(_ key: String, because reason: String) throws(ConfigError) {
        guard let (value, location) = self.lookup(key) else { return }
        switch value {
        case .scalar(let text, _) where text.isEmpty:
            return
        case .list(let items) where items.isEmpty:
            return
        case .scalar, .list:
            throw .invalidStructure(location: location, key: key, problem: "must not be set: \(reason)")
        }
    }

    /// An error for `key`, whose value does not fit the value of `other` (`redis.database` other than 0 while
    /// `redis.mode` is `cluster`): located where `key` is set, else where `other` is.
    /// - Parameters:
    ///   - key: The key to fix, named in the error.
    ///   - other: The key whose value makes `key`'s wrong.
    ///   - problem: What is wrong, e.g. `must be 0 when redis.mode is cluster`.
    public mutating func mismatch(_ key: String, with other: String, problem: String) -> ConfigError {
        let location = self.lookup(key)?.location ?? self.lookup(other)?.location
            ?? .environment(variable: self.environmentVariable(for: key) ?? key)
        return .invalidStructure(location: location, key: key, problem: problem)
    }
}
