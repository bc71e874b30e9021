// Typed accessors of ConfigDocument. Each records the key in `readKeys`, prefers the environment
// variable over the file, returns the default when the key is unset or empty, and otherwise
// validates the value, throwing a ConfigError that names the location, the key, the value and the expectation.

extension ConfigDocument {
    /// Reads a string.
    ///
    /// Any scalar is accepted (`port: 6379` reads as `"6379"`); a list is not.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.host`.
    ///   - defaultValue: The value when the key is unset.
    ///   - allowed: When given, the only accepted values (e.g. `["text", "json"]`).
    /// - Throws: ``ConfigError`` when the value is a list or not one of `allowed`.
    public mutating func string(_ key: String, default defaultValue: String, allowed: [String]? = nil) throws(ConfigError) -> String {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        let expected = allowed.map { "one of " + $0.map { String(reflecting: $0) }.joined(separator: ", ") } ?? "a string"
        guard case .scalar(let text, _) = raw else {
            throw .invalidValue(location: location, key: key, expected: expected, got: "a list")
        }
        if let allowed, !allowed.contains(text) {
            throw .invalidValue(location: location, key: key, expected: expected, got: String(reflecting: text))
        }
        return text
    }

    /// Reads a string that must satisfy a rule, such as a name's character set or a length.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `bootstrap.admin_user`.
    ///   - defaultValue: The value when the key is unset (not checked against the rule).
    ///   - expected: The rule in words, for the error, e.g. `1 to 64 characters of A-Z a-z 0-9`.
    ///   - isValid: The rule.
    ///   - describe: How the error shows a rejected value; the value itself by default. Pass a description
    ///     such as its length for a secret, so the error never prints it.
    /// - Throws: ``ConfigError`` when the value is a list or breaks the rule.
    public mutating func string(
        _ key: String,
        default defaultValue: String,
        expected: String,
        matching isValid: (String) -> Bool,
        describe: (String) -> String = { String(reflecting: $0) }
    ) throws(ConfigError) -> String {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        guard case .scalar(let text, _) = raw else {
            throw .invalidValue(location: location, key: key, expected: expected, got: "a list")
        }
        guard isValid(text) else {
            throw .invalidValue(location: location, key: key, expected: expected, got: describe(text))
        }
        return text
    }

    /// Reads a host to listen on or connect to: a DNS name (labels of letters, digits, `-` and `_`), an
    /// IPv4 address or an IPv6 address (without brackets).
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.host`.
    ///   - defaultValue: The value when the key is unset.
    /// - Throws: ``ConfigError`` when the value is none of these (`bad host!`, `999.1.1.1`).
    public mutating func host(_ key: String, default defaultValue: String) throws(ConfigError) -> String {
        try self.string(key, default: defaultValue, expected: "a host name, an IPv4 address or an IPv6 address", matching: Self.isHost)
    }

    /// Reads where a server listens: `<section>.host` (as ``host(_:default:)``) and `<section>.port`, 0 to
    /// 65535, where 0 lets the system choose.
    /// - Parameters:
    ///   - section: The keys' section, e.g. `http`.
    ///   - defaultHost: The host when `<section>.host` is unset.
    ///   - defaultPort: The port when `<section>.port` is unset.
    /// - Returns: The host and the port.
    /// - Throws: ``ConfigError`` naming the bad key.
    public mutating func listenAddress(_ section: String, defaultHost: String, defaultPort: Int) throws(ConfigError) -> (host: String, port: Int) {
        let host = try self.host("\(section).host", default: defaultHost)
        return (host, try self.int("\(section).port", default: defaultPort, range: 0...65535))
    }

    /// Whether `text` is a DNS name, an IPv4 address or an IPv6 address (without brackets).
    public static func isHost(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        if bytes.contains(UInt8(ascii: ":")) {
            // IPv6, possibly with an embedded IPv4 tail or a zone (`fe80::1%eth0`).
            let address = bytes.split(separator: UInt8(ascii: "%"), maxSplits: 1, omittingEmptySubsequences: false)[0]
            return address.allSatisfy { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || Self.isHexDigit($0) }
                && address.filter { $0 == UInt8(ascii: ":") }.count >= 2
        }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let named = labels.last?.isEmpty == true ? labels.dropLast() : labels[...]  // a trailing dot is allowed
        if named.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isDigit) }) {
            // All digits: an IPv4 address, exactly four parts of at most 255.
            return labels.count == 4 && labels.allSatisfy { $0.count <= 3 && (Int(String(decoding: $0, as: UTF8.self)) ?? 256) <= 255 }
        }
        return named.allSatisfy { label in
            (1...63).contains(label.count) && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { Self.isDigit($0) || Self.isLetter($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }
    private static func isHexDigit(_ byte: UInt8) -> Bool {
        Self.isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    /// Reads a string that has no default, such as a secret.
    ///
    /// - Parameter key: The dotted key, e.g. `rpc.secret`.
    /// - Throws: ``ConfigError`` when the key is unset or empty (naming the environment variable that
    ///   can supply it), or is a list.
    public mutating func requiredString(_ key: String) throws(ConfigError) -> String {
        let value = try self.string(key, default: "")
        guard !value.isEmpty else {
            throw .missingRequired(key: key, variable: self.environmentVariable(for: key))
        }
        return value
    }

    /// Reads an integer, optionally restricted to `range`.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.port`.
    ///   - defaultValue: The value when the key is unset.
    ///   - range: When given, the accepted values (e.g. `1...65535`).
    /// - Throws: ``ConfigError`` when the value is not an integer (a quoted YAML string is not) or out of range.
    public mutating func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        let expected = range.map { "an integer in \($0.lowerBound)...\($0.upperBound)" } ?? "an integer"
        let text = try Self.unquotedScalar(raw, key: key, location: location, expected: expected)
        guard let value = Int(text.trimmingWhitespace()), range?.contains(value) ?? true else {
            throw .invalidValue(location: location, key: key, expected: expected, got: String(reflecting: text))
        }
        return value
    }

    /// Reads a finite decimal number, optionally restricted to `range`.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `limiter.burst_factor`.
    ///   - defaultValue: The value when the key is unset.
    ///   - range: When given, the accepted values (e.g. `0...1`).
    /// - Throws: ``ConfigError`` when the value is not a finite number or out of range.
    public mutating func double(_ key: String, default defaultValue: Double, range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        let expected = range.map { "a number in \($0.lowerBound)...\($0.upperBound)" } ?? "a number"
        let text = try Self.unquotedScalar(raw, key: key, location: location, expected: expected)
        guard let value = Double(text.trimmingWhitespace()), value.isFinite, range?.contains(value) ?? true else {
            throw .invalidValue(location: location, key: key, expected: expected, got: String(reflecting: text))
        }
        return value
    }

    /// Reads a boolean: `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`, in any case.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `admin.enabled`.
    ///   - defaultValue: The value when the key is unset.
    /// - Throws: ``ConfigError`` for any other value.
    public mutating func bool(_ key: String, default defaultValue: Bool) throws(ConfigError) -> Bool {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        let expected = "a boolean (true/false, yes/no, on/off, 1/0)"
        let text = try Self.unquotedScalar(raw, key: key, location: location, expected: expected)
        switch text.trimmingWhitespace().lowercased() {
        case "true", "yes", "on", "1":
            return true
        case "false", "no", "off", "0":
            return false
        default:
            throw .invalidValue(location: location, key: key, expected: expected, got: String(reflecting: text))
        }
    }

    /// Reads a duration written as a whole number of milliseconds.
    ///
    /// By convention such keys end in `_ms`, e.g. `redis.command_timeout_ms: 250`.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `redis.command_timeout_ms`.
    ///   - defaultValue: The value when the key is unset.
    ///   - range: When given, the accepted durations; they are compared in whole milliseconds.
    /// - Throws: ``ConfigError`` when the value is not a non-negative integer or out of range.
    public mutating func duration(_ key: String, default defaultValue: Duration, range: ClosedRange<Duration>? = nil) throws(ConfigError) -> Duration {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        let millisecondRange = range.map { Self.milliseconds($0.lowerBound)...Self.milliseconds($0.upperBound) } ?? 0...Int64.max
        let expected = range == nil
            ? "a duration in whole milliseconds (0 or more)"
            : "a duration in whole milliseconds in \(millisecondRange.lowerBound)...\(millisecondRange.upperBound)"
        let text = try Self.unquotedScalar(raw, key: key, location: location, expected: expected)
        guard let value = Int64(text.trimmingWhitespace()), value >= 0, millisecondRange.contains(value) else {
            throw .invalidValue(location: location, key: key, expected: expected, got: String(reflecting: text))
        }
        return .milliseconds(value)
    }

    /// Reads a list of strings: a YAML sequence of scalars, or comma-separated items in an environment variable.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `auth.audiences`.
    ///   - defaultValue: The value when the key is unset.
    /// - Throws: ``ConfigError`` when the file holds a single scalar instead of a sequence.
    public mutating func stringList(_ key: String, default defaultValue: [String]) throws(ConfigError) -> [String] {
        guard let (raw, location) = self.lookup(key) else { return defaultValue }
        switch (raw, location) {
        case (.list(let items), _):
            return items
        case (.scalar(let text, _), .environment):
            return text.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmingWhitespace() }
                .filter { !$0.isEmpty }
        case (.scalar(let text, _), .file):
            throw .invalidValue(
                location: location,
                key: key,
                expected: "a list of strings (a YAML sequence such as [a, b])",
                got: String(reflecting: text)
            )
        }
    }

    /// Reads a list of strings whose every item must pass `isValid`.
    ///
    /// - Parameters:
    ///   - key: The dotted key, e.g. `collections`.
    ///   - defaultValue: The value when the key is unset.
    ///   - expected: What a valid item is, for the error (e.g. "names of A-Z a-z 0-9 _ . -").
    ///   - isValid: Whether one item is acceptable.
    /// - Throws: ``ConfigError`` naming the first invalid item, or as ``stringList(_:default:)``.
    public mutating func stringList(
        _ key: String,
        default defaultValue: [String],
        expected: String,
        eachMatching isValid: (String) -> Bool
    ) throws(ConfigError) -> [String] {
        let items = try self.stringList(key, default: defaultValue)
        if let invalid = items.first(where: { !isValid($0) }), let (_, location) = self.lookup(key) {
            throw .invalidValue(location: location, key: key, expected: "a list of \(expected)", got: "the item \(String(reflecting: invalid))")
        }
        return items
    }

    private static func unquotedScalar(
        _ raw: ResolvedValue,
        key: String,
        location: ConfigLocation,
        expected: String
    ) throws(ConfigError) -> String {
        switch raw {
        case .list:
            throw .invalidValue(location: location, key: key, expected: expected, got: "a list")
        case .scalar(let text, quoted: true):
            throw .invalidValue(location: location, key: key, expected: expected, got: "the quoted string \(String(reflecting: text)) (write it without quotes)")
        case .scalar(let text, quoted: false):
            return text
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let components = duration.components
        return components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    fileprivate func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
