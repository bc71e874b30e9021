import Crypto

/// A Lua script for ``RedisClient/evalScript(_:keys:arguments:)``, identified by the SHA1 of its source.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The lowercase hex SHA1 of ``source``, as Redis computes it for `EVALSHA` and `SCRIPT LOAD`.
    public let sha1: String

    /// Creates a script from its Lua source and computes its SHA1.
    public init(source: String) {
        self.source = source
        let digest = Insecure.SHA1.hash(data: Array(source.utf8))
        var hex = ""
        hex.reserveCapacity(40)
        for byte in digest {
            let text = String(byte, radix: 16)
            if text.count == 1 {
                hex.append("0")
            }
            hex.append(text)
        }
        self.sha1 = hex
    }
}
