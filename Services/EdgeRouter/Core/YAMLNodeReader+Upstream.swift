import GatehouseConfig
import GatehouseNIOSupport
import Yams

extension YAMLNodeReader {
    /// The keys of a route's `upstream:`.
    static let upstreamKeys = ["addresses", "path_prefix_rewrite", "timeouts", "max_body_bytes", "identity_headers", "invalidates", "health_check"]
    /// The keys of `upstream.timeouts`.
    static let upstreamTimeoutKeys = ["connect", "first_byte", "total"]
    /// The keys of `upstream.identity_headers`.
    static let identityHeaderKeys = ["sub", "roles", "scopes"]

    /// A route's `upstream:` mapping (``HTTPUpstreamConfiguration``), checked against the route's path.
    /// - Parameters:
    ///   - routePath: The route's path template, of which `path_prefix_rewrite.from` must be a leading part.
    ///   - sharesAuthorizedAnswers: Whether the route writes `cache.scope: public`.
    mutating func upstream(_ node: Node, field: String, routePath: String?, sharesAuthorizedAnswers: Bool) -> HTTPUpstreamConfiguration? {
        guard let values = self.values(node, field: field, valid: Self.upstreamKeys) else { return nil }
        let before = self.problems.count
        var addresses: [UpstreamAddress] = []
        if let list = self.required(values["addresses"], at: node, field: "\(field).addresses").flatMap({ self.stringList($0, field: "\(field).addresses") }) {
            for text in list {
                guard let address = Self.upstreamAddress(text) else {
                    self.problem(at: node, field: "\(field).addresses", "expected addresses such as http://127.0.0.1:8000 (http, a host, a port 1-65535, no path), got \"\(text)\"")
                    break
                }
                if addresses.contains(address) {
                    self.problem(at: node, field: "\(field).addresses", "\"\(text)\" is listed twice")
                    break
                }
                addresses.append(address)
            }
            if list.isEmpty { self.problem(at: node, field: "\(field).addresses", "expected at least one address") }
        }
        var rewrite: (from: String, to: String)?
        if let rewriteNode = values["path_prefix_rewrite"], let parts = self.values(rewriteNode, field: "\(field).path_prefix_rewrite", valid: ["from", "to"]) {
            let from = self.required(parts["from"], at: rewriteNode, field: "\(field).path_prefix_rewrite.from")?.scalar?.string
            let to = self.required(parts["to"], at: rewriteNode, field: "\(field).path_prefix_rewrite.to")?.scalar?.string
            if let from, let to {
                if !Self.isPathPrefix(from, of: routePath) {
                    self.problem(
                        at: rewriteNode, field: "\(field).path_prefix_rewrite.from",
                        "expected leading literal segments of the route's path \(routePath ?? "?") (such as /api), got \"\(from)\""
                    )
                } else if !to.hasPrefix("/") || to.contains("?") || to.contains("#") || !to.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                    self.problem(at: rewriteNode, field: "\(field).path_prefix_rewrite.to", "expected a path such as / or /v2, got \"\(to)\"")
                } else {
                    rewrite = (from, to)
                }
            }
        }
        var timeouts = HTTPUpstream.Timeouts(connect: .seconds(2), firstByte: .seconds(15), total: .seconds(30))
        if let timeoutNode = values["timeouts"], let given = self.values(timeoutNode, field: "\(field).timeouts", valid: Self.upstreamTimeoutKeys) {
            let limit = Duration.seconds(300)
            let read = { (reader: inout YAMLNodeReader, key: String) -> Duration? in
                guard let valueNode = given[key], let value = reader.duration(valueNode, field: "\(field).timeouts.\(key)") else { return nil }
                guard value >= .milliseconds(1), value <= limit else {
                    reader.problem(at: valueNode, field: "\(field).timeouts.\(key)", "expected 1ms to 5m, got \(YAMLNodeReader.describe(valueNode))")
                    return nil
                }
                return value
            }
            timeouts.connect = read(&self, "connect") ?? timeouts.connect
            timeouts.firstByte = read(&self, "first_byte") ?? timeouts.firstByte
            timeouts.total = read(&self, "total") ?? timeouts.total
            if timeouts.connect > timeouts.total || timeouts.firstByte > timeouts.total {
                self.problem(at: timeoutNode, field: "\(field).timeouts.total", "total must be at least connect and first_byte (it bounds the whole exchange)")
            }
        }
        let maximumBodyBytes = values["max_body_bytes"].flatMap { self.int($0, field: "\(field).max_body_bytes", range: 1...(64 << 20)) } ?? (1 << 20)
        var identity = HTTPUpstreamConfiguration.IdentityHeaders.standard
        if let identityNode = values["identity_headers"], let names = self.values(identityNode, field: "\(field).identity_headers", valid: Self.identityHeaderKeys) {
            for key in Self.identityHeaderKeys {
                guard let nameNode = names[key] else { continue }
                guard let name = nameNode.scalar?.string, Self.isHeaderName(name), !ForwardedHeaders.isReserved(name) else {
                    self.problem(
                        at: nameNode, field: "\(field).identity_headers.\(key)",
                        "expected a header name such as X-Gatehouse-Sub (not one the edge sets or drops itself), got \(YAMLNodeReader.describe(nameNode))"
                    )
                    continue
                }
                switch key {
                case "sub": identity.subject = name
                case "roles": identity.roles = name
                default: identity.scopes = name
                }
            }
            let lowered = [identity.subject, identity.roles, identity.scopes].map { $0.lowercased() }
            if Set(lowered).count < 3 { self.problem(at: identityNode, field: "\(field).identity_headers", "sub, roles and scopes need three different names") }
        }
        let healthCheck = values["health_check"].flatMap { self.healthCheck($0, field: "\(field).health_check") }
        guard self.problems.count == before else { return nil }
        return HTTPUpstreamConfiguration(
            addresses: addresses, pathPrefixRewrite: rewrite, timeouts: timeouts, maximumBodyBytes: maximumBodyBytes,
            identityHeaders: identity, sharesAuthorizedAnswers: sharesAuthorizedAnswers, healthCheck: healthCheck
        )
    }

    /// A route's `upstream.invalidates`: the paths a `2xx` write drops on every edge, as templates whose
    /// parameters are the route's own (`/articles/{id}` on a route `/articles/{id}`).
    /// - Parameters:
    ///   - routePath: The route's path template.
    mutating func invalidationTemplates(_ node: Node, field: String, routePath: (text: String, segments: [EdgeRoute.Segment])) -> [PathTemplate]? {
        guard let entries = self.sequence(node, field: field) else { return nil }
        guard !entries.isEmpty else {
            self.problem(at: node, field: field, "expected at least one path such as \(routePath.text) (leave invalidates out for the path and its parent)")
            return nil
        }
        let before = self.problems.count
        var templates: [PathTemplate] = []
        for (index, entry) in entries.enumerated() {
            guard let path = self.routePath(entry, field: "\(field)[\(index)]") else { continue }
            for case .parameter(let name) in path.segments where !routePath.segments.contains(.parameter(name)) {
                self.problem(at: entry, field: "\(field)[\(index)]", "{\(name)} is not a parameter of the route's path \(routePath.text)")
            }
            templates.append(PathTemplate(text: path.text, segments: path.segments))
        }
        return self.problems.count == before ? templates : nil
    }

    /// `http://host:port`, with a host name or an IPv4 address, or an IPv6 one in brackets.
    static func upstreamAddress(_ text: String) -> UpstreamAddress? {
        guard text.lowercased().hasPrefix("http://") else { return nil }
        let authority = text.dropFirst("http://".count)
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(authority[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@"), HostFieldValue.isValid(authority.hasPrefix("[") ? "[\(host)]" : host) else { return nil }
        return UpstreamAddress(host: host, port: port)
    }

    /// Whether `prefix` is one or more whole leading literal segments of `path`.
    private static func isPathPrefix(_ prefix: String, of path: String?) -> Bool {
        guard let path, prefix.hasPrefix("/"), prefix.count > 1, !prefix.hasSuffix("/"), !prefix.contains("{"), path.hasPrefix(prefix) else { return false }
        return path.count == prefix.count || path.dropFirst(prefix.count).hasPrefix("/")
    }

    /// Whether `name` is a header field name (an RFC 9110 token).
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
