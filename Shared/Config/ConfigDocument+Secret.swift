// Secrets (`rpc.secret`, `redis.password`, `bootstrap.admin_password`): read like strings, but a value that
// is too short or still an example value is refused, and an error never prints the value.

extension ConfigDocument {
    /// The fewest bytes a secret may have.
    public static let minimumSecretBytes = 16

    /// The text every example secret of `compose/env.example` contains. A value that still contains it, in
    /// any case, was copied without being replaced, and is known to anyone who read the example.
    public static let exampleSecretMarker = "replace-me"

    /// Reads an optional secret.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.password`.
    ///   - maximumBytes: The most bytes the secret may have (a bcrypt password reads at most 72), if limited.
    /// - Returns: The secret, or `nil` when the key is unset or empty.
    /// - Throws: ``ConfigError`` naming the file line or environment variable and the key, when the value is
    ///   shorter than ``minimumSecretBytes``, longer than `maximumBytes`, or contains ``exampleSecretMarker``;
    ///   the message shows the value's length or that it is an example, never the value.
    public mutating func secret(_ key: String, maximumBytes: Int? = nil) throws(ConfigError) -> String? {
        let length = maximumBytes.map { "\(Self.minimumSecretBytes) to \($0) bytes" } ?? "at least \(Self.minimumSecretBytes) bytes"
        let value = try self.string(
            key,
            default: "",
            expected: "a secret of \(length) that is not an example value (make one with `openssl rand -hex 32`)",
            matching: { text in
                text.isEmpty
                    || (!Self.isExampleSecret(text) && text.utf8.count >= Self.minimumSecretBytes && text.utf8.count <= maximumBytes ?? .max)
            },
            describe: { text in
                Self.isExampleSecret(text) ? "an example value that still contains '\(Self.exampleSecretMarker)'" : "a secret of \(text.utf8.count) bytes"
            }
        )
        return value.isEmpty ? nil : value
    }

    /// Reads a secret that has no default, such as `rpc.secret`.
    ///
    /// - Parameter key: The dotted key.
    /// - Returns: The secret.
    /// - Throws: ``ConfigError`` as ``secret(_:maximumBytes:)``, or naming the environment variable that can
    ///   supply it when it is unset or empty.
    public mutating func requiredSecret(_ key: String) throws(ConfigError) -> String {
        guard let value = try self.secret(key) else {
            throw .missingRequired(key: key, variable: self.environmentVariable(for: key))
        }
        return value
    }

    /// Whether a value still contains ``exampleSecretMarker``, in any case.
    static func isExampleSecret(_ text: String) -> Bool {
        text.lowercased().contains(Self.exampleSecretMarker)
    }
}
