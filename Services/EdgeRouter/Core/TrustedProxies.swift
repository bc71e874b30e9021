/// Which peers may say who the client is: the edge takes the client address from `X-Forwarded-For` only
/// when the TCP peer is one of these (a load balancer), and then only the part of the chain its trusted
/// proxies appended: walking the header from the right, the first address that is not a trusted proxy is
/// the client. A client that writes its own `X-Forwarded-For` cannot choose its address this way.
package struct TrustedProxies: Sendable, Equatable {
    private struct IPv4Network: Sendable, Equatable {
        let address: UInt32
        let mask: UInt32

        func contains(_ other: UInt32) -> Bool { other & self.mask == self.address & self.mask }
    }

    private let exact: Set<String>
    private let networks: [IPv4Network]

    /// No trusted proxies: the client address is always the TCP peer.
    package static let none = TrustedProxies(exact: [], networks: [])

    private init(exact: Set<String>, networks: [IPv4Network]) {
        self.exact = exact
        self.networks = networks
    }

    /// Parses addresses (`10.0.0.5`, `::1`) and IPv4 networks (`10.0.0.0/8`).
    /// - Returns: `nil` when an entry is neither.
    package init?(_ entries: [String]) {
        var exact: Set<String> = []
        var networks: [IPv4Network] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1)
            if parts.count == 2 {
                guard let address = Self.ipv4(parts[0]), let bits = Int(parts[1]), (0...32).contains(bits) else { return nil }
                networks.append(IPv4Network(address: address, mask: bits == 0 ? 0 : UInt32.max << (32 - bits)))
            } else {
                guard Self.ipv4(Substring(entry)) != nil || (entry.contains(":") && entry.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                    return nil
                }
                exact.insert(entry.lowercased())
            }
        }
        self.init(exact: exact, networks: networks)
    }

    /// Whether an address is a trusted proxy.
    package func contains(_ address: String) -> Bool {
        if self.exact.contains(address.lowercased()) { return true }
        guard let value = Self.ipv4(Substring(address)) else { return false }
        return self.networks.contains { $0.contains(value) }
    }

    /// The client's address for a request from `peer` with the given `X-Forwarded-For` header.
    package func clientAddress(peer: String, forwardedFor: String?) -> String {
        guard let forwardedFor, self.contains(peer) else { return peer }
        let chain = forwardedFor.split(separator: ",").map { $0.trimmingASCIISpaces() }.filter { !$0.isEmpty }
        for address in chain.reversed() where !self.contains(address) {
            return address
        }
        return chain.first ?? peer
    }

    private static func ipv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard octet.count <= 3, let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}

extension Substring {
    /// The text without leading and trailing ASCII spaces and tabs (no Foundation, no grapheme walk).
    func trimmingASCIISpaces() -> String {
        let bytes = self.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start = bytes.index(after: start) }
        while end > start, bytes[bytes.index(before: end)] == UInt8(ascii: " ") || bytes[bytes.index(before: end)] == UInt8(ascii: "\t") {
            end = bytes.index(before: end)
        }
        return String(Substring(bytes[start..<end]))
    }
}
