import Foundation

/// The environment variables Kubernetes gives every container for each Service of its namespace ("service
/// links", unless the pod sets `enableServiceLinks: false`), recognised by their names and values.
///
/// For a Service `limiter-redis` at `10.0.0.8` with port 6379 named `redis`:
/// ```
/// LIMITER_REDIS_SERVICE_HOST=10.0.0.8
/// LIMITER_REDIS_SERVICE_PORT=6379
/// LIMITER_REDIS_SERVICE_PORT_REDIS=6379
/// LIMITER_REDIS_PORT=tcp://10.0.0.8:6379
/// LIMITER_REDIS_PORT_6379_TCP=tcp://10.0.0.8:6379
/// LIMITER_REDIS_PORT_6379_TCP_PROTO=tcp
/// LIMITER_REDIS_PORT_6379_TCP_PORT=6379
/// LIMITER_REDIS_PORT_6379_TCP_ADDR=10.0.0.8
/// ```
/// (`UDP` and `SCTP` ports alike). A variable matches only when its name has one of these shapes (the
/// Service's name upper-cased with `-` as `_`, a port number, a protocol) **and** its value is what Kubernetes
/// puts there: an IP address, a port number, `tcp`/`udp`/`sctp`, or `tcp://host:port`. So `LIMITER_PORT=7101`
/// (a port, where Kubernetes writes a URL) or `LIMITER_REDIS_PROT=1` is not one.
enum KubernetesServiceLink {
    private static let protocols = ["TCP", "UDP", "SCTP"]

    /// Whether `variable=value` is one of a Service's link variables.
    static func matches(variable: String, value: String) -> Bool {
        if let service = variable.droppingSuffix("_SERVICE_HOST"), isServiceName(service), isIPAddress(value) {
            return true
        }
        if let service = variable.droppingSuffix("_SERVICE_PORT"), isServiceName(service), isPortNumber(value) {
            return true
        }
        if let range = variable.range(of: "_SERVICE_PORT_", options: .backwards),
            isServiceName(variable[..<range.lowerBound]), isServiceName(variable[range.upperBound...]), isPortNumber(value)
        {
            return true
        }
        if let service = variable.droppingSuffix("_PORT"), isServiceName(service), isAddressURL(value) {
            return true
        }
        return self.matchesPortVariable(variable, value: value)
    }

    /// `<SERVICE>_PORT_<number>_<PROTOCOL>` (a URL) and its `_PROTO`, `_PORT` and `_ADDR` variables.
    private static func matchesPortVariable(_ variable: String, value: String) -> Bool {
        guard let range = variable.range(of: "_PORT_", options: .backwards) else { return false }
        let rest = variable[range.upperBound...].split(separator: "_", omittingEmptySubsequences: false)
        guard isServiceName(variable[..<range.lowerBound]), rest.count == 2 || rest.count == 3, isPortNumber(rest[0]),
            protocols.contains(String(rest[1]))
        else {
            return false
        }
        let port = rest[0]
        let proto = rest[1].lowercased()
        guard rest.count == 3 else {
            return addressURL(value).map { $0.proto == proto && $0.port == port } ?? false
        }
        switch rest[2] {
        case "PROTO": return value == proto
        case "PORT": return value == port
        case "ADDR": return isIPAddress(value)
        default: return false
        }
    }

    /// Whether `value` is a service link's address, `tcp://host:port` (or `udp://`, `sctp://`), as Kubernetes
    /// writes into `<SERVICE>_PORT`.
    static func isAddressURL(_ value: String) -> Bool {
        addressURL(value) != nil
    }

    private static func addressURL(_ value: String) -> (proto: String, port: Substring)? {
        guard let scheme = value.range(of: "://") else { return nil }
        let proto = String(value[..<scheme.lowerBound])
        guard protocols.contains(proto.uppercased()), proto == proto.lowercased() else { return nil }
        let authority = value[scheme.upperBound...]
        guard let colon = authority.lastIndex(of: ":") else { return nil }
        var host = authority[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        let port = authority[authority.index(after: colon)...]
        guard isIPAddress(host), isPortNumber(port) else { return nil }
        return (proto, port)
    }

    /// A Service name as a variable shows it: a DNS label upper-cased, `-` written `_`.
    private static func isServiceName(_ name: Substring) -> Bool {
        guard let first = name.first, let last = name.last, first.isASCII, first.isLetter, last != "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }
    }

    private static func isPortNumber<Text: StringProtocol>(_ text: Text) -> Bool {
        guard !text.isEmpty, text.count <= 5, text.first != "0", text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text) else {
            return false
        }
        return (1...65535).contains(port)
    }

    /// An IPv4 or IPv6 address literal, by its characters: what a cluster IP looks like.
    private static func isIPAddress<Text: StringProtocol>(_ text: Text) -> Bool {
        !text.isEmpty && text.count <= 45 && (text.contains(".") || text.contains(":"))
            && text.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == "." || $0 == ":") }
    }
}

extension String {
    /// The string without `suffix`, or `nil` when it does not end with it (or is only the suffix).
    fileprivate func droppingSuffix(_ suffix: String) -> Substring? {
        guard self.count > suffix.count, self.hasSuffix(suffix) else { return nil }
        return self.dropLast(suffix.count)
    }
}
