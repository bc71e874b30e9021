import NIOCore
import Synchronization

/// Bounds the calls running on one server connection and drains it on shutdown.
///
/// The connection's reader takes a slot before it reads the next request, so at the bound it stops
/// reading and TCP pushes back on the client. On shutdown the connection closes as soon as its last
/// running call has written its answer, or at once when it is idle (its reader waiting for a request).
final class RPCConnectionSlots: Sendable {
    private struct State {
        var inFlight = 0
        var waiter: CheckedContinuation<Void, Never>?
        var draining = false
        /// The reader holds a slot and waits for the next request: that slot is no call.
        var readerWaiting = false

        /// No call is running: only the waiting reader (if any) holds a slot.
        var isIdle: Bool { self.inFlight == (self.readerWaiting ? 1 : 0) }
    }

    private let maximum: Int
    private let channel: any Channel
    private let state = Mutex(State())

    init(maximum: Int, channel: any Channel) {
        self.maximum = maximum
        self.channel = channel
    }

    /// Waits until fewer than the maximum calls run, then takes a slot.
    func acquire() async {
        let acquired = self.state.withLock { state in
            guard state.inFlight < self.maximum else { return false }
            state.inFlight += 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = self.state.withLock { state in
                if state.inFlight < self.maximum {
                    state.inFlight += 1
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Returns a slot; hands it straight to a waiting reader, or closes a draining connection that fell idle.
    func release() {
        let (waiter, close): (CheckedContinuation<Void, Never>?, Bool) = self.state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.inFlight -= 1
            return (nil, state.draining && state.isIdle)
        }
        waiter?.resume()
        if close { self.channel.close(promise: nil) }
    }

    /// Marks the reader, which holds a slot, as waiting for the next request (`true`) or as holding one
    /// (`false`); a draining connection whose reader starts waiting with no call running closes.
    func readerWaits(_ waiting: Bool) {
        let close = self.state.withLock { state in
            state.readerWaiting = waiting
            return waiting && state.draining && state.isIdle
        }
        if close { self.channel.close(promise: nil) }
    }

    /// Whether shutdown has begun (new requests are answered `unavailable`).
    var isDraining: Bool { self.state.withLock { $0.draining } }

    /// Starts draining: closes now when idle, else after the last running call.
    func drain() {
        let close = self.state.withLock { state in
            state.draining = true
            return state.isIdle
        }
        if close { self.channel.close(promise: nil) }
    }
}
