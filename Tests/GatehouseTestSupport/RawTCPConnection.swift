#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP connection to 127.0.0.1, for tests that send bytes no HTTP client would (half a request,
/// a body that never ends) and watch what the server does. Sendable so that a blocking read can run off the
/// cooperative threads (`onThreadOfItsOwn`); one task uses it at a time.
public final class RawTCPConnection: @unchecked Sendable {
    private let descriptor: Int32

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        self.descriptor = try connectedLoopbackSocket(port: port, timeout: timeval(tv_sec: 0, tv_usec: 100_000))
    }

    /// Sends `text` as UTF-8.
    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(self.descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw LoopbackSocketError("send()")
        }
    }

    /// Reads what the server sends until `isComplete` holds for all of it, the server closes the connection,
    /// or `timeout` passes.
    /// - Returns: What was received, as UTF-8 text.
    public func receive(timeout: Duration, until isComplete: (String) -> Bool) -> String {
        let start = ContinuousClock.now
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now - start < timeout {
            let count = recv(self.descriptor, &buffer, buffer.count, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { break }
            if count > 0 {
                received += buffer.prefix(count)
                if isComplete(String(decoding: received, as: UTF8.self)) { break }
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// ``receive(timeout:until:)`` on a thread of its own (``onThreadOfItsOwn``): for a test whose answer needs
    /// a service running in the test process, which the blocking read must not keep from the cooperative threads.
    public func receiveOffPool(timeout: Duration, until isComplete: @escaping @Sendable (String) -> Bool) async -> String {
        (try? await onThreadOfItsOwn { self.receive(timeout: timeout, until: isComplete) }) ?? ""
    }

    /// Waits up to `timeout` for the server to close the connection, discarding what it sends.
    /// - Returns: How long after the call the connection was closed; `nil` if it was still open.
    public func waitForClose(timeout: Duration) -> Duration? {
        let start = ContinuousClock.now
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now - start < timeout {
            let received = recv(self.descriptor, &buffer, buffer.count, 0)
            if received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                return ContinuousClock.now - start
            }
        }
        return nil
    }

    /// Whether the server has closed the connection, checked without waiting; what it sent is discarded.
    public func isClosedByServer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let received = recv(self.descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if received > 0 { continue }
            return received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    deinit {
        close(self.descriptor)
    }
}
