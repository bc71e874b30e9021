import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback TCP relay between an RPC client (an edge) and a server (the data service) that passes the
/// protocol's frames through unchanged (docs/protocol.md, "Frames": a four-byte big-endian length, then the
/// payload), and can hold one request frame back: after ``hold(method:)``, the next client frame whose
/// payload names that method (`data.Put`) waits until ``release()``, while every other frame, in both
/// directions, passes. Calls are independent, so holding one back is a legitimate order of events: it lets
/// a test make a change at the data service between an edge's read and its write. Runs until ``stop()``,
/// which drops every connection at once, as a server that crashed would.
public final class RPCFrameGate: Sendable {
    /// The port the client connects to.
    public let port: Int
    private let listener: Int32
    private let target: Int
    private let state = Mutex(State())
    /// Client-to-server writes, from the relaying thread and from ``release()``, one frame at a time.
    private let upstreamWrites = Mutex(())

    private struct State {
        var method: [UInt8]?
        var held: (upstream: Int32, frame: [UInt8])?
        var connections: [RelayedConnection] = []
        var stopped = false
    }

    /// Listens on 127.0.0.1 and relays each connection to 127.0.0.1:`target`.
    /// - Parameters:
    ///   - target: The server's port.
    ///   - port: The port to listen on: a free one by default, or the one of a gate stopped before.
    public init(target: Int, port: Int = 0) throws {
        self.target = target
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listener >= 0, bound else { throw GateError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))") }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in self.acceptConnections() }
    }

    /// Holds the next client frame that names `method` until ``release()``.
    public func hold(method: String) {
        self.state.withLock { $0.method = Array(method.utf8) }
    }

    /// Whether a frame is held.
    public var isHolding: Bool { self.state.withLock { $0.held != nil } }

    /// Sends the held frame on, if any, and holds nothing more.
    public func release() {
        let held = self.state.withLock { state in
            defer { state.held = nil; state.method = nil }
            return state.held
        }
        if let held { _ = self.upstreamWrites.withLock { _ in Self.write(held.upstream, held.frame) } }
    }

    /// Stops listening and shuts every relayed connection down.
    public func stop() {
        let connections = self.state.withLock { state in
            defer { state.stopped = true }
            if !state.stopped { shutdown(self.listener, Int32(SHUT_RDWR)) }
            return state.connections
        }
        for connection in connections { connection.shutDown() }
    }

    private func acceptConnections() {
        defer { close(self.listener) }
        while true {
            let client = accept(self.listener, nil, nil)
            guard client >= 0 else { return }
            guard let upstream = try? Self.connectUpstream(port: self.target) else {
                close(client)
                continue
            }
            let pair = RelayedConnection(client: client, upstream: upstream)
            let stopped = self.state.withLock { state in
                state.connections.append(pair)
                return state.stopped
            }
            if stopped {
                pair.finish()
                pair.finish()
                return
            }
            Thread.detachNewThread { [self] in self.relayFrames(pair) }
            Thread.detachNewThread { Self.relayBytes(pair) }
        }
    }

    /// One relayed connection's two sockets, closed once both directions are done.
    private final class RelayedConnection: Sendable {
        let client: Int32
        let upstream: Int32
        /// The directions still relaying; the sockets are closed when none is.
        private let running = Mutex(2)

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        /// Ends both directions, unless the sockets are closed already.
        func shutDown() {
            self.running.withLock { running in
                guard running > 0 else { return }
                shutdown(self.client, Int32(SHUT_RDWR))
                shutdown(self.upstream, Int32(SHUT_RDWR))
            }
        }

        /// One direction is done: end the other, and close the sockets after the second.
        func finish() {
            self.running.withLock { running in
                running -= 1
                shutdown(self.client, Int32(SHUT_RDWR))
                shutdown(self.upstream, Int32(SHUT_RDWR))
                if running == 0 {
                    close(self.client)
                    close(self.upstream)
                }
            }
        }
    }

    /// Client to server, frame by frame, holding back the one asked for.
    private func relayFrames(_ pair: RelayedConnection) {
        defer { pair.finish() }
        while let frame = Self.readFrame(pair.client) {
            let held = self.state.withLock { state -> Bool in
                guard let method = state.method, state.held == nil, frame.count > 4, Self.contains(frame[4...], method) else { return false }
                state.held = (pair.upstream, frame)
                return true
            }
            if !held, !self.upstreamWrites.withLock({ _ in Self.write(pair.upstream, frame) }) { return }
        }
    }

    /// Server to client, byte for byte.
    private static func relayBytes(_ pair: RelayedConnection) {
        defer { pair.finish() }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(pair.upstream, &buffer, buffer.count, 0)
            guard count > 0, Self.write(pair.client, Array(buffer.prefix(count))) else { return }
        }
    }

    private static func readFrame(_ descriptor: Int32) -> [UInt8]? {
        guard let header = Self.read(descriptor, count: 4) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard let payload = Self.read(descriptor, count: length) else { return nil }
        return header + payload
    }

    private static func read(_ descriptor: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let received = bytes[done...].withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { return nil }
            done += received
        }
        return bytes
    }

    private static func write(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            sent += written
        }
        return true
    }

    private static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (haystack.startIndex...(haystack.endIndex - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    private static func connectUpstream(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw GateError("cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    struct GateError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
