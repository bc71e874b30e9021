import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a loopback socket operation of the test support failed.
public struct LoopbackSocketError: Error, CustomStringConvertible {
    /// What was attempted and the `errno` text.
    public let description: String

    init(_ operation: String) {
        self.description = "\(operation) failed: \(String(cString: strerror(errno)))"
    }
}

/// A TCP port on 127.0.0.1 that is free right now, for a server a test starts later (often a child process).
///
/// The port is chosen at random below the kernel's ephemeral range (`ip_local_port_range`) and checked by binding
/// it without `SO_REUSEADDR`. Ports the kernel hands out by itself, to `bind(port: 0)` and to the local side of
/// every outgoing connection, come from the ephemeral range; a port taken from there could be given to one of the
/// thousands of connections the other tests open before the child binds it (an edge that then cannot listen).
/// Below the range only a server that asks for that very port can take it, and no port is handed out twice
/// in one test process. When the machine's ephemeral range leaves too little room below it, the kernel chooses.
public func freeLoopbackPort() throws -> Int {
    let range = portsBelowEphemeralRange
    if range.count >= 1000 {
        for _ in 0..<200 {
            let port = Int.random(in: range)
            guard handedOutPorts.withLock({ $0.insert(port).inserted }) else { continue }
            if let bound = try? bindLoopback(port: port), bound == port { return port }
        }
    }
    while true {
        let port = try bindLoopback(port: 0)
        if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
    }
}

/// Every port `freeLoopbackPort` has returned in this process.
private let handedOutPorts = Mutex<Set<Int>>([])

/// 20000 up to the first port of the kernel's ephemeral range (32768 when it cannot be read).
private let portsBelowEphemeralRange: ClosedRange<Int> = {
    var first = 32768
    if let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
        let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap({ Int($0) })
    {
        first = low
    }
    return first > 21000 ? 20000...(first - 1) : 20000...20000
}()

/// Binds a socket to 127.0.0.1:`port` (0: the kernel chooses), closes it, and returns the port it had.
private func bindLoopback(port: Int) throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
        throw LoopbackSocketError("socket()")
    }
    defer { close(descriptor) }
    var address = loopbackAddress(port: port)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else {
        throw LoopbackSocketError("bind(127.0.0.1:\(port))")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(descriptor, $0, &length)
        }
    }
    guard named == 0 else {
        throw LoopbackSocketError("getsockname()")
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A TCP socket connected to 127.0.0.1:`port`, with send and receive timeouts; the caller closes it.
func connectedLoopbackSocket(port: Int, timeout: timeval = timeval(tv_sec: 5, tv_usec: 0)) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
        throw LoopbackSocketError("socket()")
    }
    var timeout = timeout
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        let error = LoopbackSocketError("connect(127.0.0.1:\(port))")
        close(descriptor)
        throw error
    }
    return descriptor
}

/// Sends an inline `PING` to 127.0.0.1:`port` and reports whether a Redis reply came back within about 200 ms.
/// `-NOAUTH` counts: the server is up, it just wants a password.
func redisAnswersPing(port: Int) -> Bool {
    guard let descriptor = try? connectedLoopbackSocket(port: port, timeout: timeval(tv_sec: 0, tv_usec: 200_000)) else {
        return false
    }
    defer { close(descriptor) }
    let ping = Array("PING\r\n".utf8)
    guard send(descriptor, ping, ping.count, 0) == ping.count else {
        return false
    }
    var reply = [UInt8](repeating: 0, count: 64)
    let received = recv(descriptor, &reply, reply.count, 0)
    guard received > 0 else {
        return false
    }
    let text = String(decoding: reply.prefix(received), as: UTF8.self)
    return text.hasPrefix("+PONG") || text.hasPrefix("-NOAUTH")
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
