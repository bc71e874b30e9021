/// A Redis Cluster node's answer that a command belongs elsewhere: `MOVED <slot> <host:port>` (the slot has a
/// new owner: update the map) or `ASK <slot> <host:port>` (the slot is being migrated and the key is already
/// at the target: send `ASKING` and the command there, once, without changing the map).
struct RedisClusterRedirect: Sendable, Hashable {
    /// Which redirect it is.
    enum Kind: Sendable, Hashable {
        case moved
        case ask
    }

    let kind: Kind
    let slot: Int
    let address: RedisServerAddress

    /// Reads a `MOVED` or `ASK` error reply; `nil` for any other error.
    init?(_ error: RedisError) {
        guard error.code == .serverError, let message = error.serverMessage else {
            return nil
        }
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<RedisHashSlot.count).contains(slot),
            let address = RedisServerAddress(announced: words[2])
        else {
            return nil
        }
        switch words[0] {
        case "MOVED": self.kind = .moved
        case "ASK": self.kind = .ask
        default: return nil
        }
        self.slot = slot
        self.address = address
    }

}
