import GatehouseConfig

/// The address of a Redis server or sentinel: a host name or IP address and a TCP port.
public struct RedisServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    /// - Parameters:
    ///   - host: Host name or IP address.
    ///   - port: TCP port.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`10.0.0.5:26379`, `sentinel-a:26379`), an IPv6 address in brackets
    /// (`[::1]:26379`); `nil` when the host is not a host name or IP address (``ConfigDocument/isHost(_:)``)
    /// or the port is not in 1...65535.
    /// - Parameter text: The address as written in a configuration.
    public init?(parsing text: String) {
        guard let announced = RedisServerAddress(announced: text) else {
            return nil
        }
        var host = Substring(announced.host)
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            return nil
        }
        guard ConfigDocument.isHost(String(host)) else {
            return nil
        }
        self.init(host: String(host), port: announced.port)
    }

    /// Reads `host:port` as Redis writes it (a cluster's `MOVED` and `ASK` answers): the port after the last
    /// `:`, an IPv6 address without brackets (`::1:6381`); `nil` when the host is empty or the port is not in
    /// 1...65535.
    init?(announced text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else {
            return nil
        }
        self.init(host: String(text[..<colon]), port: port)
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
