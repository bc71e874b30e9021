import Foundation

/// The environment variables Kubernetes gives every container of a namespace for each of its Services
/// ("service links"), as the kubelet writes them: for a Service `limiter-redis` at `10.0.0.8` with port
/// 6379 named `redis`, `LIMITER_REDIS_SERVICE_HOST=10.0.0.8`, `LIMITER_REDIS_SERVICE_PORT=6379`,
/// `LIMITER_REDIS_SERVICE_PORT_REDIS=6379`, `LIMITER_REDIS_PORT=tcp://10.0.0.8:6379`,
/// `LIMITER_REDIS_PORT_6379_TCP=tcp://10.0.0.8:6379` and its `_PROTO`, `_PORT` and `_ADDR`.
public enum KubernetesServiceLinkEnvironment {
    /// One Service port.
    public struct Port: Sendable {
        /// The port's name (`http`, `rpc`), or `nil` for an unnamed port.
        public var name: String?
        /// The number.
        public var number: Int
        /// `tcp`, `udp` or `sctp`.
        public var proto: String

        /// A port.
        public init(name: String?, number: Int, proto: String = "tcp") {
            self.name = name
            self.number = number
            self.proto = proto
        }
    }

    /// The variables of one Service. The first port is the Service's `_SERVICE_PORT` and `_PORT`.
    /// - Parameters:
    ///   - service: The Service's name, e.g. `limiter-redis`.
    ///   - clusterIP: Its cluster IP.
    ///   - ports: Its ports.
    public static func variables(service: String, clusterIP: String, ports: [Port]) -> [String: String] {
        let prefix = service.uppercased().replacingOccurrences(of: "-", with: "_")
        var variables = ["\(prefix)_SERVICE_HOST": clusterIP]
        if let first = ports.first {
            variables["\(prefix)_SERVICE_PORT"] = "\(first.number)"
            variables["\(prefix)_PORT"] = "\(first.proto)://\(clusterIP):\(first.number)"
        }
        for port in ports {
            if let name = port.name {
                variables["\(prefix)_SERVICE_PORT_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))"] = "\(port.number)"
            }
            let base = "\(prefix)_PORT_\(port.number)_\(port.proto.uppercased())"
            variables[base] = "\(port.proto)://\(clusterIP):\(port.number)"
            variables[base + "_PROTO"] = port.proto
            variables[base + "_PORT"] = "\(port.number)"
            variables[base + "_ADDR"] = clusterIP
        }
        return variables
    }

    /// The variables of Services named after every Gatehouse service and its prefix, each with named and
    /// unnamed ports (one UDP), as a namespace running Gatehouse has: `limiter`, `data`, `auth`, `edge`,
    /// `edge-router`, `data-service`, `auth-issuer`, `limiter-redis`.
    public static let gatehouseNamespace: [String: String] = {
        let services: [(String, [Port])] = [
            ("limiter", [Port(name: "rpc", number: 7101), Port(name: "admin", number: 9101)]),
            ("data", [Port(name: nil, number: 7102)]),
            ("auth", [Port(name: "http", number: 8081), Port(name: "rpc", number: 7103)]),
            ("edge", [Port(name: "http", number: 8080), Port(name: "metrics", number: 9104), Port(name: "dns", number: 53, proto: "udp")]),
            ("edge-router", [Port(name: "http", number: 8180)]),
            ("data-service", [Port(name: "rpc", number: 7102)]),
            ("auth-issuer", [Port(name: "http", number: 8081), Port(name: "rpc-port", number: 7103)]),
            ("limiter-redis", [Port(name: "redis", number: 6379)]),
        ]
        var variables: [String: String] = [:]
        for (index, (service, ports)) in services.enumerated() {
            variables.merge(Self.variables(service: service, clusterIP: "10.96.0.\(10 + index)", ports: ports)) { $1 }
        }
        return variables
    }()
}
