import GatehouseNIOSupport
import GatehouseConfig
import Yams

extension YAMLNodeReader {
    /// The keys of a route's `cors:`.
    static let corsKeys = ["origins", "methods", "headers", "credentials", "max_age", "expose_headers"]

    /// A route's `cors:` mapping (``CORSPolicy``), checked against the route's methods.
    mutating func cors(_ node: Node, field: String, routeMethods: Set<String>) -> CORSPolicy? {
        guard let values = self.values(node, field: field, valid: Self.corsKeys) else { return nil }
        let before = self.problems.count
        let originList = self.required(values["origins"], at: node, field: "\(field).origins").flatMap { self.stringList($0, field: "\(field).origins") }
        let credentials = values["credentials"].flatMap { self.bool($0, field: "\(field).credentials") } ?? false
        let served = routeMethods.contains("GET") ? routeMethods.union(["HEAD"]) : routeMethods
        var methods = served.sorted()
        if let node = values["methods"], let listed = self.stringList(node, field: "\(field).methods") {
            let asked = Set(listed.map { $0.uppercased() })
            if asked.isEmpty || !asked.isSubset(of: served) {
                self.problem(at: node, field: "\(field).methods", "expected some of the route's methods (\(served.sorted().joined(separator: ", "))), got \(listed)")
            }
            methods = asked.sorted()
        }
        let headers = values["headers"].flatMap { self.headerNames($0, field: "\(field).headers") } ?? CORSPolicy.defaultRequestHeaders
        let exposed = values["expose_headers"].flatMap { self.headerNames($0, field: "\(field).expose_headers") } ?? CORSPolicy.defaultExposedHeaders
        let maxAge = values["max_age"].flatMap { self.duration($0, field: "\(field).max_age") } ?? .seconds(600)
        guard let originList, self.problems.count == before else { return nil }

        let origins: CORSPolicy.Origins
        if originList == ["*"] {
            guard !credentials else {
                self.problem(at: node, field: "\(field).origins", "origins [\"*\"] cannot be used with credentials: true (browsers refuse it); list the origins")
                return nil
            }
            origins = .any
        } else {
            var listed: Set<String> = []
            for origin in originList {
                guard Self.isSerializedOrigin(origin) else {
                    self.problem(
                        at: node, field: "\(field).origins",
                        "expected [\"*\"] or origins such as https://app.example.com (scheme, host, optional port; no path), got \"\(origin)\""
                    )
                    return nil
                }
                listed.insert(origin.lowercased())
            }
            origins = .listed(listed)
        }
        return CORSPolicy(
            origins: origins, methods: methods, requestHeaders: headers, allowsCredentials: credentials, maxAge: maxAge, exposedHeaders: exposed
        )
    }

    /// A list of header field names (RFC 9110 tokens).
    private mutating func headerNames(_ node: Node, field: String) -> [String]? {
        guard let names = self.stringList(node, field: field) else { return nil }
        let token = { (name: String) in
            !name.isEmpty && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
        if let bad = names.first(where: { !token($0) || $0 == "*" }) {
            self.problem(at: node, field: field, "expected header names such as Authorization, got \"\(bad)\" (a wildcard is not supported: list the names)")
            return nil
        }
        return names
    }

    /// Whether `text` is an origin as browsers send it: `http` or `https`, `://`, a host, an optional port.
    static func isSerializedOrigin(_ text: String) -> Bool {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = lower.dropFirst("https://".count)
        } else if lower.hasPrefix("http://") {
            rest = lower.dropFirst("http://".count)
        } else {
            return false
        }
        return !rest.isEmpty && !rest.contains("/") && !rest.contains("@") && !rest.contains("?") && !rest.contains("#")
            && HostFieldValue.isValid(String(rest))
    }
}
