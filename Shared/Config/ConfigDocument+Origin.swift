extension ConfigDocument {
    /// Where the value of `key` comes from, for an error about keys whose values do not fit together:
    /// `data.yaml:12`, `environment variable DATA_RPC_MAX_FRAME_BYTES`, or `the default` when it is unset.
    /// - Parameter key: A dotted key, e.g. `rpc.max_frame_bytes`.
    /// - Returns: The file and line, the environment variable, or `the default`.
    public mutating func origin(of key: String) -> String {
        self.lookup(key).map { "\($0.location)" } ?? "the default"
    }
}

extension ConfigDocument {
    /// An error for `key`, whose value (or absence) does not fit the value of `other` (`redis.cluster.seeds`
    /// unset while `redis.mode` is `cluster`): located where `key` is set, else where `other` is.
    /// - Parameters:
    ///   - key: The key to fix, named in the error.
    ///   - other: The key whose value makes `key`'s wrong.
    ///   - problem: What is wrong, e.g. `needs at least one host:port when redis.mode is cluster`.
    public mutating func mismatch(_ key: String, with other: String, problem: String) -> ConfigError {
        let location = self.lookup(key)?.location ?? self.lookup(other)?.location
            ?? .environment(variable: self.environmentVariable(for: key) ?? key)
        return .invalidStructure(location: location, key: key, problem: problem)
    }
}
