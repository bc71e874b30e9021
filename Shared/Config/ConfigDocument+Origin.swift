extension ConfigDocument {
    /// Where the value of `key` comes from, for an error about keys whose values do not fit together:
    /// `data.yaml:12`, `environment variable DATA_RPC_MAX_FRAME_BYTES`, or `the default` when it is unset.
    /// - Parameter key: A dotted key, e.g. `rpc.max_frame_bytes`.
    /// - Returns: The file and line, the environment variable, or `the default`.
    public mutating func origin(of key: String) -> String {
        self.lookup(key).map { "\($0.location)" } ?? "the default"
    }
}
