/// A request's header fields as the gateway reads them: names lower-case, a repeated field's values joined
/// with `, ` (RFC 9110 §5.3), in the order they arrived. Found by a scan, which for the handful of fields a
/// request has costs less than hashing every name into a dictionary and every name looked up.
package struct RequestFields: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    private var fields: [(name: String, value: String)] = []

    /// No fields.
    package init() {}

    /// The fields of `dictionary`, whose names are lower-case.
    package init(_ dictionary: [String: String]) {
        self.fields = dictionary.map { ($0.key, $0.value) }
    }

    /// The fields given, names lower-case.
    package init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self[name] = value }
    }

    /// Makes room for `count` fields.
    mutating func reserveCapacity(_ count: Int) {
        self.fields.reserveCapacity(count)
    }

    /// A field's value by lower-case name; setting replaces it, or adds it at the end.
    package subscript(name: String) -> String? {
        get {
            for field in self.fields where field.name == name { return field.value }
            return nil
        }
        set {
            let index = self.fields.firstIndex { $0.name == name }
            switch (index, newValue) {
            case (let index?, let value?): self.fields[index].value = value
            case (let index?, nil): self.fields.remove(at: index)
            case (nil, let value?): self.fields.append((name, value))
            case (nil, nil): break
            }
        }
    }

    /// Adds a field read from the request (`name` lower-case), joined to an earlier one of the same name.
    mutating func add(_ name: String, _ value: String) {
        if let index = self.fields.firstIndex(where: { $0.name == name }) {
            self.fields[index].value += ", " + value
        } else {
            self.fields.append((name, value))
        }
    }

    /// How many fields there are.
    package var count: Int { self.fields.count }

    /// The fields in arrival order.
    package func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        self.fields.makeIterator()
    }
}
