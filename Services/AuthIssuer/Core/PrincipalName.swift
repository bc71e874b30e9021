/// The rules for user names, client ids and role names: 1 to 64 characters of `A-Z a-z 0-9 _ . @ -`.
///
/// The same names appear as the `sub` claim, in rate-limit keys and in logs, so they are kept to characters
/// that need no escaping anywhere.
package enum PrincipalName {
    /// The longest name.
    package static let maximumLength = 64

    /// Checks a name.
    /// - Parameters:
    ///   - name: The name.
    ///   - field: What it names (`username`, `client id`, `role`), for the error.
    /// - Throws: ``PrincipalNameError`` naming the field and the rule.
    package static func validate(_ name: String, field: String) throws(PrincipalNameError) {
        let valid = (1...maximumLength).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "@"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
        guard valid else {
            throw PrincipalNameError(description: "\(field) '\(name)' is invalid: use 1 to \(maximumLength) characters of A-Z a-z 0-9 _ . @ -")
        }
    }
}

/// A name that breaks the ``PrincipalName`` rules.
package struct PrincipalNameError: Error, Sendable, CustomStringConvertible {
    /// Which name, and the rule.
    package let description: String
}
