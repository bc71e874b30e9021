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

/// A TCP port on 127.0.0.1 that is free right now: binds a socket to port 0, reads the port the kernel chose,
/// and closes the socket. Another process could take the port before it is used; tests accept that small race.
public func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
        throw LoopbackSocketError("socket()")
    }
    defer { close(descriptor) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else {
        throw LoopbackSocketError("bind(127.0.0.1:0)")
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
