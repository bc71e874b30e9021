#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The process's limit on open files (`RLIMIT_NOFILE`), which caps connections before
/// `http.max_connections` can: at the limit, `accept` fails and new connections wait in the kernel instead of
/// getting the edge's `503`. The edge raises its soft limit when it starts, as Go's runtime does, so that the
/// configured number of connections fits.
enum FileDescriptorLimit {
    /// Descriptors kept beyond `http.max_connections`: refused connections while they linger, RPC and Redis
    /// connections, the admin server, files.
    static let reserve = 1024

    /// The soft limit to set for `needed` descriptors under the current `soft` and `hard` limits: `soft`
    /// when it is enough, else `needed`, at most `hard`.
    static func softLimit(soft: UInt64, hard: UInt64, needed: UInt64) -> UInt64 {
        soft >= needed ? soft : min(needed, hard)
    }

    /// Raises the soft limit to hold `connections` plus ``reserve`` descriptors, as far as the hard limit
    /// allows; logs a warning when that is not enough.
    static func raise(toHold connections: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return }
        let needed = UInt64(connections + Self.reserve)
        let soft = Self.softLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max), needed: needed)
        if soft != UInt64(limit.rlim_cur) {
            var raised = limit
            raised.rlim_cur = rlim_t(soft)
            if setrlimit(Self.resource, &raised) == 0 { limit = raised }
        }
        if UInt64(limit.rlim_cur) < needed {
            logger.warning(
                "the open-file limit is below http.max_connections plus a reserve: past it, new connections wait instead of getting 503",
                metadata: [
                    "limit": "\(limit.rlim_cur)", "hard_limit": "\(limit.rlim_max)", "http.max_connections": "\(connections)",
                    "needed": "\(needed)", "fix": "raise the hard limit (ulimit -Hn, LimitNOFILE=, docker --ulimit nofile=) or lower http.max_connections",
                ]
            )
        }
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue))
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
