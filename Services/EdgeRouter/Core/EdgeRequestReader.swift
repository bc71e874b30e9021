import GatehouseNIOSupport
import NIOCore
import NIOHTTP1

/// Assembles the HTTP/1.1 request parts of one connection into whole requests within the body limit: a pure
/// state machine that ``EdgeConnectionHandler`` drives with each part it reads and that tests drive without sockets.
///
/// - A request whose body fits is answered once its end is read.
/// - A request whose body may be streamed (an HTTP upstream route's write: the head names the bound) and is
///   longer than that bound is answered once more than the bound has arrived (``Action/stream(_:_:)``):
///   the rest is passed on part by part (``Action/forward(_:)``) until its end (``Action/endStream``),
///   still within the body limit; a stream that goes over the limit is aborted (``Action/abortStream``) and
///   the rest discarded, as is the rest of a body whose request was answered before its end
///   (``discardRest()``).
/// - `Expect: 100-continue` gets `100 Continue` when the declared body fits, so the client sends it.
/// - A body over the limit, declared by `Content-Length` or counted as it arrives, is answered `413` at
///   once, and the connection is closed: at once when the client waits for `100 Continue` (it will not send
///   the body), else when the rest of the body, which is discarded, has arrived (bounded by the request
///   timeout), so that a client still sending it reads the answer instead of a reset.
/// - A head that RFC 9112 says a server must refuse is answered `400` the same way: an HTTP/1.1 request
///   without `Host`, with more than one, or with a `Host` that is not a `host[:port]` (§3.2). A request
///   with a transfer coding other than `chunked` is answered `501` (§6.1: the edge decodes no other).
struct EdgeRequestReader {
    /// What the server does after a part.
    enum Action {
        /// Nothing yet.
        case none
        /// Write `100 Continue`.
        case sendContinue(HTTPRequestHead)
        /// Answer this refusal for this head, with `Connection: close`; close the connection after the
        /// answer when `closeAfterAnswer`, else wait for ``Action/close``.
        case reject(HTTPRequestHead, Refusal, closeAfterAnswer: Bool)
        /// A whole request to answer.
        case answer(HTTPRequestHead, ByteBuffer)
        /// A request to answer now with the body so far; the rest follows as ``forward(_:)`` parts.
        case stream(HTTPRequestHead, ByteBuffer)
        /// Pass on this part of a streamed body.
        case forward(ByteBuffer)
        /// The streamed body ended.
        case endStream
        /// The streamed body went over the limit: abort it; the rest is discarded, then ``close``.
        case abortStream
        /// The rejected request's body has ended: close the connection.
        case close
    }

    private enum State {
        /// Between requests.
        case idle
        /// Reading a body that fits so far, streamed once longer than the bound, if any.
        case receiving(HTTPRequestHead, ByteBuffer, streamBeyond: Int?)
        /// Passing a body on; `received` bytes so far.
        case streaming(received: Int)
        /// Discarding the rest of a body over the limit.
        case discarding
    }

    /// Why a request is refused before it is answered.
    enum Refusal: Equatable {
        /// The body is over the limit: `413`.
        case tooLarge
        /// The head breaks RFC 9112 (`Host`): `400`, with what is wrong.
        case badHead(String)
        /// A transfer coding the edge does not decode: `501`, naming it.
        case unsupportedTransferCoding(String)
    }

    /// The largest body accepted, in bytes.
    let maximumBodyBytes: Int
    private var state = State.idle

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// A request head was read.
    /// - Parameter streamBeyond: The bound beyond which this request's body is streamed, `nil` when it is
    ///   read whole.
    mutating func head(_ head: HTTPRequestHead, streamBeyond: Int? = nil) -> Action {
        let fields = FieldsOfNote(head.headers)
        if let refusal = Self.refusal(of: head, fields) {
            self.state = .discarding
            return .reject(head, refusal, closeAfterAnswer: fields.waitsForContinue)
        }
        if let declared = fields.contentLength.flatMap({ Int($0) }), declared > self.maximumBodyBytes {
            self.state = .discarding
            return .reject(head, .tooLarge, closeAfterAnswer: fields.waitsForContinue)
        }
        self.state = .receiving(head, ByteBuffer(), streamBeyond: streamBeyond)
        return fields.waitsForContinue && head.version != .http1_0 ? .sendContinue(head) : .none
    }

    /// Part of the body was read.
    mutating func body(_ part: ByteBuffer) -> Action {
        switch self.state {
        case .receiving(let head, var body, let streamBeyond):
            guard body.readableBytes + part.readableBytes <= self.maximumBodyBytes else {
                self.state = .discarding
                return .reject(head, .tooLarge, closeAfterAnswer: false)
            }
            self.state = .idle  // drops this copy's reference, so appending does not copy the buffer
            var part = part
            body.writeBuffer(&part)
            if let streamBeyond, body.readableBytes > streamBeyond {
                self.state = .streaming(received: body.readableBytes)
                return .stream(head, body)
            }
            self.state = .receiving(head, body, streamBeyond: streamBeyond)
            return .none
        case .streaming(let received):
            guard received + part.readableBytes <= self.maximumBodyBytes else {
                self.state = .discarding
                return .abortStream
            }
            self.state = .streaming(received: received + part.readableBytes)
            return .forward(part)
        case .idle, .discarding:
            return .none
        }
    }

    /// The request was answered before its body's end: the rest of the body is discarded, then ``Action/close``.
    mutating func discardRest() {
        if case .streaming = self.state { self.state = .discarding }
    }

    /// Whether the body of the request being answered is still arriving (streamed, or discarded).
    var hasUnreadBody: Bool {
        switch self.state {
        case .streaming, .discarding: true
        case .idle, .receiving: false
        }
    }

    /// Whether the last request's end has been read and the next one's head has not: parts read now belong
    /// to a request after the one being answered.
    var isBetweenRequests: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// The fields a head is checked by, read in one pass without building arrays: this runs for every head.
    private struct FieldsOfNote {
        var hostCount = 0
        /// The last `Host` value.
        var host: String?
        /// The `Transfer-Encoding` values, joined by `,`.
        var codings: String?
        /// The first `Content-Length` value.
        var contentLength: String?
        /// Whether an `Expect` value is `100-continue`.
        var waitsForContinue = false

        init(_ headers: HTTPHeaders) {
            for (name, value) in headers {
                if Self.isName(name, "host") {
                    self.hostCount += 1
                    self.host = value
                } else if Self.isName(name, "content-length") {
                    if self.contentLength == nil { self.contentLength = value }
                } else if Self.isName(name, "transfer-encoding") {
                    self.codings = self.codings.map { $0 + "," + value } ?? value
                } else if Self.isName(name, "expect"), value.lowercased() == "100-continue" {
                    self.waitsForContinue = true
                }
            }
        }

        /// Whether a field name equals `lowercased` (a lower-case ASCII name), case-insensitively, without allocating.
        private static func isName(_ name: String, _ lowercased: StaticString) -> Bool {
            guard name.utf8.count == lowercased.utf8CodeUnitCount else { return false }
            return name.utf8.withContiguousStorageIfAvailable { ASCIICaseInsensitive.hasPrefix($0, lowercased) }
                ?? name.utf8.elementsEqual(UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)) {
                    ASCIICaseInsensitive.lowered($0) == $1
                }
        }
    }

    /// What RFC 9112 makes a server refuse in a head, if anything.
    private static func refusal(of head: HTTPRequestHead, _ fields: FieldsOfNote) -> Refusal? {
        if head.version.major == 1, head.version.minor >= 1, fields.hostCount == 0 {
            return .badHead("an HTTP/1.1 request needs a Host header field")
        }
        if fields.hostCount > 1 { return .badHead("the request has \(fields.hostCount) Host header fields; it may have one") }
        if let host = fields.host, !HostFieldValue.isValid(host) {
            return .badHead("the Host header field is not a valid host[:port]")
        }
        for coding in fields.codings?.split(separator: ",") ?? [] {
            let name = coding.trimmingASCIISpaces().lowercased()
            if name != "chunked" { return .unsupportedTransferCoding(name) }
        }
        return nil
    }

    /// The request's end was read.
    mutating func end() -> Action {
        defer { self.state = .idle }
        switch self.state {
        case .receiving(let head, let body, _): return .answer(head, body)
        case .streaming: return .endStream
        case .discarding: return .close
        case .idle: return .none
        }
    }
}
