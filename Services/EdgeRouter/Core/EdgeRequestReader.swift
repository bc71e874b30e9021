import NIOCore
import NIOHTTP1

/// Assembles the HTTP/1.1 request parts of one connection into whole requests within the body limit: a pure
/// state machine that ``EdgeRequestChannelHandler`` drives with each part it reads and that tests drive without sockets.
///
/// - A request whose body fits is answered once its end is read.
/// - `Expect: 100-continue` gets `100 Continue` when the declared body fits, so the client sends it.
/// - A body over the limit, declared by `Content-Length` or counted as it arrives, is answered `413` at
///   once, and the connection is closed: at once when the client waits for `100 Continue` (it will not send
///   the body), else when the rest of the body, which is discarded, has arrived (bounded by the request
///   timeout), so that a client still sending it reads the answer instead of a reset.
struct EdgeRequestReader {
    /// What the server does after a part.
    enum Action {
        /// Nothing yet.
        case none
        /// Write `100 Continue`.
        case sendContinue(HTTPRequestHead)
        /// Answer `413` for this head, with `Connection: close`; close the connection after the answer when
        /// `closeAfterAnswer`, else wait for ``Action/close``.
        case rejectTooLarge(HTTPRequestHead, closeAfterAnswer: Bool)
        /// A whole request to answer.
        case answer(HTTPRequestHead, ByteBuffer)
        /// The rejected request's body has ended: close the connection.
        case close
    }

    private enum State {
        /// Between requests.
        case idle
        /// Reading a body that fits so far.
        case receiving(HTTPRequestHead, ByteBuffer)
        /// Discarding the rest of a body over the limit.
        case discarding
    }

    /// The largest body accepted, in bytes.
    let maximumBodyBytes: Int
    private var state = State.idle

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// A request head was read.
    mutating func head(_ head: HTTPRequestHead) -> Action {
        let waitsForContinue = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let declared = head.headers["content-length"].first.flatMap { Int($0) }
        if let declared, declared > self.maximumBodyBytes {
            self.state = .discarding
            return .rejectTooLarge(head, closeAfterAnswer: waitsForContinue)
        }
        self.state = .receiving(head, ByteBuffer())
        return waitsForContinue && head.version != .http1_0 ? .sendContinue(head) : .none
    }

    /// Part of the body was read.
    mutating func body(_ part: ByteBuffer) -> Action {
        guard case .receiving(let head, var body) = self.state else { return .none }
        guard body.readableBytes + part.readableBytes <= self.maximumBodyBytes else {
            self.state = .discarding
            return .rejectTooLarge(head, closeAfterAnswer: false)
        }
        self.state = .idle  // drops this copy's reference, so appending does not copy the buffer
        var part = part
        body.writeBuffer(&part)
        self.state = .receiving(head, body)
        return .none
    }

    /// The request's end was read.
    mutating func end() -> Action {
        defer { self.state = .idle }
        switch self.state {
        case .receiving(let head, let body): return .answer(head, body)
        case .discarding: return .close
        case .idle: return .none
        }
    }
}
