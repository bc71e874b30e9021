/// The address of one Redis server: a host (name, IPv4 or IPv6 address) and a TCP port.
public struct RedisNodeAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `host:port` (the port after the last `:`, so `::1:7000` is host `::1`); `nil` when the host is
    /// empty or the port is not in 1...65535.
    public init?(parsing text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            return nil
        }
        let host = text[..<colon]
        guard !host.isEmpty else {
            return nil
        }
        self.init(host: String(host), port: port)
    }

    /// `host:port`.
    public var description: String {
        "\(self.host):\(self.port)"
    }
}
