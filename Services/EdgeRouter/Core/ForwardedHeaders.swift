/// The header fields the edge sends to an HTTP upstream, and those it passes back to the client, as a
/// gateway must rewrite them (RFC 9110 §7.6, RFC 7239).
///
/// Toward the upstream:
/// - hop-by-hop fields are dropped: `Connection`, every field `Connection` names, `Keep-Alive`,
///   `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, and `Proxy-Authorization`
///   (credentials meant for a proxy, not the origin); `Content-Length` is dropped too, since the edge
///   frames the body it sends itself;
/// - the client's `Host` is not forwarded (``HTTPUpstream`` sends the chosen address's authority, the
///   target after the route's rewrite); it goes on in `X-Forwarded-Host` and `Forwarded: host=`;
/// - `Forwarded` (RFC 7239), `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are replaced,
///   never appended to: the edge already took the client's address from a trusted proxy's chain (see
///   ``TrustedProxies``), and what a client writes itself must not reach the upstream as if the edge had
///   vouched for it;
/// - `X-Request-ID` is the request's ID (received or generated);
/// - identity fields: every field the route names for the verified identity, and every `X-Gatehouse-*`
///   field, is removed from what the client sent, then the verified values are added;
/// - `Via: 1.1 gatehouse` is appended (RFC 9110 §7.6.3).
///
/// Toward the client: hop-by-hop fields dropped as above (the edge frames the body itself); `Server` and
/// `X-Request-ID` dropped, since the edge sets its own on every answer; `Proxy-Authenticate` dropped, since
/// it challenges the next client on the chain, the edge (RFC 9110 §11.7.1), as `Proxy-Authorization` is
/// never forwarded; and `Via` appended. The upstream's
/// `Date` stays: the cache's freshness needs it (RFC 9111 §4.2), and the HTTP server sends it in place of
/// its own (one `Date` only, RFC 9110 §5.3).
enum ForwardedHeaders {
    // Field names are compared with these in place, ignoring ASCII case (``isName(_:_:)``): no lower-cased
    // copy and no hashing per field and request.
    /// Fields that describe one connection, never forwarded (RFC 9110 §7.6.1), plus what the edge sets itself.
    private static let hopByHop = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "content-length",
    ]
    /// Fields the edge sets on every forwarded request.
    private static let replacedTowardUpstream = ["host", "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]
    /// Fields of the upstream's answer the edge sets itself on every answer.
    private static let replacedTowardClient = ["server", "x-request-id", "proxy-authenticate"]
    /// Whether the edge drops or sets the field itself, so a route cannot name it for the caller's identity.
    static func isReserved(_ name: String) -> Bool {
        self.hasName(name, among: self.hopByHop) || self.hasName(name, among: self.replacedTowardUpstream) || self.hasName(name, among: ["via", "authorization"])
    }

    /// The `Via` entry the edge adds.
    static let via = "1.1 gatehouse"

    /// What the edge knows about the client's request, for the forwarding fields.
    struct Origin: Sendable, Equatable {
        /// The client's address (from ``TrustedProxies``).
        var clientAddress: String
        /// The scheme the client used toward the edge (or its trusted load balancer): `http` or `https`
    /// (``clientScheme(peerIsTrusted:forwarded:forwardedProto:)``).
        var scheme: String
        /// The client's `Host`, if it sent one.
        var host: String?
        /// The request's `X-Request-ID`.
        var requestID: String
    }

    /// The fields to send upstream.
    /// - Parameters:
    ///   - fields: The client's fields, in order (names in any case).
    ///   - origin: The client's address, scheme, host and request ID.
    ///   - identity: The verified identity fields the route asks for (e.g. `X-Gatehouse-Sub`).
    ///   - identityNames: Every field name the route may use for identity; removed from the client's fields.
    static func towardUpstream(
        _ fields: [(name: String, value: String)],
        origin: Origin,
        identity: [(name: String, value: String)],
        identityNames: [String]
    ) -> [(name: String, value: String)] {
        let connectionNamed = self.namedInConnection(fields)
        var result: [(name: String, value: String)] = []
        result.reserveCapacity(fields.count + identity.count + 6)
        var via: String?
        for field in fields {
            let name = field.name
            if self.isName(name, "via") {
                via = via.map { "\($0), \(field.value)" } ?? field.value
                continue
            }
            if self.hasName(name, among: self.hopByHop) || self.hasName(name, among: self.replacedTowardUpstream)
                || self.hasName(name, among: connectionNamed) || self.hasName(name, among: identityNames) || self.isGatehouseField(name)
            {
                continue
            }
            result.append(field)
        }
        result.append(contentsOf: identity)
        result.append(("Forwarded", self.forwarded(origin)))
        result.append(("X-Forwarded-For", origin.clientAddress))
        result.append(("X-Forwarded-Proto", origin.scheme))
        if let host = origin.host { result.append(("X-Forwarded-Host", host)) }
        result.append(("X-Request-ID", origin.requestID))
        result.append(("Via", via.map { "\($0), \(self.via)" } ?? self.via))
        return result
    }

    /// The upstream's fields to pass on to the client.
    static func towardClient(_ fields: [(name: String, value: String)]) -> [(name: String, value: String)] {
        let connectionNamed = self.namedInConnection(fields)
        var result: [(name: String, value: String)] = []
        result.reserveCapacity(fields.count + 1)
        var via: String?
        for field in fields {
            let name = field.name
            if self.isName(name, "via") {
                via = via.map { "\($0), \(field.value)" } ?? field.value
            } else if !self.hasName(name, among: self.hopByHop), !self.hasName(name, among: self.replacedTowardClient),
                !self.hasName(name, among: connectionNamed)
            {
                result.append(field)
            }
        }
        result.append(("Via", via.map { "\($0), \(self.via)" } ?? self.via))
        return result
    }

    /// The `Forwarded` element for the client (RFC 7239 §4): `for`, `proto` and `host`, with an IPv6
    /// address in quoted brackets and a host quoted when it is not a plain token.
    static func forwarded(_ origin: Origin) -> String {
        let client = origin.clientAddress.utf8.contains(UInt8(ascii: ":")) ? "\"[\(origin.clientAddress)]\"" : origin.clientAddress
        var element = "for=\(client);proto=\(origin.scheme)"
        if let host = origin.host {
            let isToken = host.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            }
            let needsEscapes = !isToken && host.utf8.contains { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }
            if isToken {
                element += ";host=\(host)"
            } else if !needsEscapes {
                element += ";host=\"\(host)\""
            } else {
                var quoted: [UInt8] = []
                for byte in host.utf8 {
                    if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { quoted.append(UInt8(ascii: "\\")) }
                    quoted.append(byte)
                }
                element += ";host=\"\(String(decoding: quoted, as: UTF8.self))\""
            }
        }
        return element
    }

    /// The scheme the client used, for `X-Forwarded-Proto` and `Forwarded: proto=`: what a trusted proxy (the
    /// TCP peer is one of `http.trusted_proxies`, ``TrustedProxies``) said in the last element of its
    /// `Forwarded` (RFC 7239 §5.4), else in the last entry of its `X-Forwarded-Proto`, when that is `http` or
    /// `https`; `http` otherwise (the edge itself serves plain HTTP/1.1).
    /// - Parameters:
    ///   - peerIsTrusted: Whether the TCP peer is a trusted proxy.
    ///   - forwarded: The request's `Forwarded` field, if any.
    ///   - forwardedProto: The request's `X-Forwarded-Proto` field, if any.
    static func clientScheme(peerIsTrusted: Bool, forwarded: String?, forwardedProto: String?) -> String {
        guard peerIsTrusted else { return "http" }
        var said: Substring?
        if let forwarded {
            // The last element is the one the nearest proxy appended; commas inside quoted values do not split.
            var inQuotes = false
            var start = forwarded.startIndex
            for index in forwarded.indices {
                if forwarded[index] == "\"" { inQuotes.toggle() }
                if forwarded[index] == ",", !inQuotes { start = forwarded.index(after: index) }
            }
            for pair in forwarded[start...].split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingASCIISpaces().lowercased() == "proto" else { continue }
                let value = parts[1].trimmingASCIISpaces()
                said = value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? value.dropFirst().dropLast() : Substring(value)
            }
        }
        if said == nil, let forwardedProto, let last = forwardedProto.split(separator: ",").last {
            said = Substring(last.trimmingASCIISpaces())
        }
        switch said?.lowercased() {
        case "https": return "https"
        default: return "http"
        }
    }

    /// The field names listed in `Connection` fields, as written.
    private static func namedInConnection(_ fields: [(name: String, value: String)]) -> [String] {
        var names: [String] = []
        for field in fields where self.isName(field.name, "connection") {
            for name in field.value.utf8.split(separator: UInt8(ascii: ",")) {
                names.append(Substring(name).trimmingASCIISpaces())
            }
        }
        return names
    }

    /// Whether `name` is one of `names`, ignoring ASCII case.
    static func hasName(_ name: String, among names: [String]) -> Bool {
        let count = name.utf8.count
        for candidate in names where candidate.utf8.count == count && self.isPrefix(candidate, of: name) {
            return true
        }
        return false
    }

    /// Whether `name` is `other`, ignoring ASCII case.
    static func isName(_ name: String, _ other: String) -> Bool {
        name.utf8.count == other.utf8.count && self.isPrefix(other, of: name)
    }

    /// Whether `name` starts with `X-Gatehouse-`, in any case.
    private static func isGatehouseField(_ name: String) -> Bool {
        self.isPrefix("x-gatehouse-", of: name)
    }

    /// Whether `name` starts with `prefix`, ignoring ASCII case.
    ///
    /// Compared over the strings' contiguous bytes: `Sequence.starts(with:by:)` over their UTF-8 views cost
    /// about 650 instructions a call, some 4,000 per forwarded request (callgrind, `bench/edge-instructions.sh`).
    private static func isPrefix(_ prefix: String, of name: String) -> Bool {
        let compared = prefix.utf8.withContiguousStorageIfAvailable { prefixBytes in
            name.utf8.withContiguousStorageIfAvailable { ASCIICaseInsensitive.hasPrefix($0, prefixBytes) }
        }
        if let compared = compared ?? nil { return compared }
        // A string not stored contiguously (a bridged one): byte by byte.
        return name.utf8.starts(with: prefix.utf8) { ASCIICaseInsensitive.lowered($0) == ASCIICaseInsensitive.lowered($1) }
    }
}
