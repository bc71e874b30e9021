/// The values a request's path gives its route template's parameters (`{id}` → `a1`), in template order.
/// Found by a scan, which for the one or two parameters a template has costs less than a dictionary.
package struct RouteParameters: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    private var values: [(name: String, value: String)] = []

    /// No parameters.
    package init() {}

    /// No parameters yet, with room for `capacity` of them.
    init(capacity: Int) {
        self.values.reserveCapacity(capacity)
    }

    /// The parameters given.
    package init(dictionaryLiteral elements: (String, String)...) {
        self.values = elements.map { ($0.0, $0.1) }
    }

    /// The value of the parameter `name`, if the template has it.
    package subscript(name: String) -> String? {
        for parameter in self.values where parameter.name == name { return parameter.value }
        return nil
    }

    /// Adds the value of the next parameter of the template.
    mutating func append(_ name: String, _ value: String) {
        self.values.append((name, value))
    }

    package static func == (lhs: RouteParameters, rhs: RouteParameters) -> Bool {
        lhs.values.elementsEqual(rhs.values) { $0.name == $1.name && $0.value == $1.value }
    }
}
