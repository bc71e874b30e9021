/// Redis Cluster's hash slot of a key, and the key a command is routed by.
///
/// A key's slot is CRC16 (XMODEM: polynomial 0x1021, initial value 0) of its hash tag, modulo 16384. The hash
/// tag is the part between the first `{` and the first `}` after it, when that part is not empty; otherwise
/// the whole key (Redis' rule, so `gh:user:{alice}` and `gh:admin:{alice}` share a slot).
public enum RedisHashSlot {
    /// The number of hash slots of a Redis Cluster.
    static let count = 16384

    /// The slot of `key`, given as its bytes.
    public static func slot(of key: some Collection<UInt8>) -> Int {
        let tagged = Self.hashTag(of: key)
        return Int(Self.crc16(tagged) & 0x3FFF)
    }

    /// The slot of `key`.
    public static func slot(of key: String) -> Int {
        Self.slot(of: key.utf8)
    }

    /// The slot a command is routed by: that of its first key, or `nil` for a command without keys (`PING`,
    /// `PUBLISH`, `TIME`, `INFO`, `SCRIPT`, `CLUSTER`, …, or `EVAL`/`EVALSHA` with no keys).
    ///
    /// The key is the first argument after the command name, except for `EVAL`/`EVALSHA`/`FCALL` (the first
    /// key after the key count). Commands of several keys must keep them in one slot (Redis answers
    /// `CROSSSLOT` otherwise).
    /// - Parameter arguments: The command name and its arguments, each as its bytes.
    static func slot<Argument: Collection<UInt8>>(ofCommand arguments: [Argument]) -> Int? {
        guard let name = arguments.first else {
            return nil
        }
        let upper = String(decoding: name, as: UTF8.self).uppercased()
        if Self.keylessCommands.contains(upper) {
            return nil
        }
        if Self.scriptCommands.contains(upper) {
            guard arguments.count > 3, let keyCount = Int(String(decoding: arguments[2], as: UTF8.self)), keyCount > 0 else {
                return nil
            }
            return Self.slot(of: arguments[3])
        }
        return arguments.count > 1 ? Self.slot(of: arguments[1]) : nil
    }

    /// Commands whose key list follows the script (or function) and a key count.
    private static let scriptCommands: Set<String> = ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"]

    /// Commands the services and their tests send that have no key: they may go to any node.
    private static let keylessCommands: Set<String> = [
        "PING", "ECHO", "TIME", "INFO", "PUBLISH", "SCRIPT", "CLUSTER", "CONFIG", "CLIENT", "DBSIZE", "FLUSHALL",
        "FLUSHDB", "DEBUG", "COMMAND", "AUTH", "HELLO", "SELECT", "ROLE", "LASTSAVE", "MEMORY", "SLOWLOG", "FUNCTION",
    ]

    private static func hashTag<Key: Collection<UInt8>>(of key: Key) -> Key.SubSequence {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else {
            return key[...]
        }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else {
            return key[...]
        }
        return key[afterOpen..<close]
    }

    private static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ Self.crc16Table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let crc16Table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
