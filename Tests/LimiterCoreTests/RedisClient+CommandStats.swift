import GatehouseRedis

extension RedisClient {
    /// `INFO commandstats` calls of `command` (lowercase) that succeeded since the server started or the last
    /// `CONFIG RESETSTAT` (an `EVALSHA` of a script not loaded yet fails with `NOSCRIPT` and is sent again).
    func commandCalls(_ command: String) async throws -> Int {
        let text = try await self.send(["INFO", "commandstats"]).string ?? ""
        // cmdstat_evalsha:calls=15,usec=4515,usec_per_call=301.00,rejected_calls=0,failed_calls=4
        guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(command):") }) else { return 0 }
        var fields: [Substring: Int] = [:]
        for field in line.dropFirst("cmdstat_\(command):".count).split(separator: ",") {
            let parts = field.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { fields[parts[0]] = value }
        }
        return (fields["calls"] ?? 0) - (fields["failed_calls"] ?? 0) - (fields["rejected_calls"] ?? 0)
    }
}
