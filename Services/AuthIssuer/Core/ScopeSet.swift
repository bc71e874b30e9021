/// A set of OAuth scopes (RFC 6749 §3.3): parsed from the space-separated `scope` parameter, kept in a
/// stable order for the `scope` claim and response field.
package struct ScopeSet: Sendable, Equatable {
    /// The scopes, sorted and without duplicates.
    package let scopes: [String]

    /// Whether a scope name is acceptable: 1 to 64 characters of `A-Z a-z 0-9 _ . : -`.
    package static func isValidScope(_ scope: String) -> Bool {
        (1...64).contains(scope.utf8.count) && scope.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// Creates a set from a list.
    package init(_ scopes: some Sequence<String>) {
        self.scopes = Array(Set(scopes)).sorted()
    }

    /// Parses the `scope` parameter.
    /// - Parameter parameter: Space-separated scope names.
    /// - Returns: `nil` when a name is not a valid scope.
    package init?(parameter: String) {
        let names = parameter.split(separator: " ").map(String.init)
        guard names.allSatisfy(Self.isValidScope) else { return nil }
        self.init(names)
    }

    /// The scopes of a request: those asked for, which must all be among `allowed`, or every allowed one
    /// when the request names none.
    /// - Parameters:
    ///   - parameter: The request's `scope` parameter, if any.
    ///   - allowed: What the caller may have.
    /// - Returns: The granted scopes, or `nil` when one asked for is malformed or not allowed.
    package static func granted(parameter: String?, allowed: ScopeSet) -> ScopeSet? {
        guard let parameter, !parameter.isEmpty else { return allowed }
        guard let requested = ScopeSet(parameter: parameter), requested.isSubset(of: allowed) else { return nil }
        return requested
    }

    /// Whether every scope is also in `other`.
    package func isSubset(of other: ScopeSet) -> Bool {
        Set(self.scopes).isSubset(of: other.scopes)
    }

    /// The scopes in both sets.
    package func intersection(_ other: ScopeSet) -> ScopeSet {
        ScopeSet(Set(self.scopes).intersection(other.scopes))
    }

    /// The space-separated form.
    package var parameter: String {
        self.scopes.joined(separator: " ")
    }
}
