import NIOCore
import NIOHTTP1

/// An HTTP upstream's answer: read whole when its body fits the route's bound, else its head and the
/// body's start, with the rest to come (`rest`).
struct UpstreamAnswer: Sendable {
    /// The status.
    var status: Int
    /// The header fields, in order.
    var headers: [(name: String, value: String)]
    /// The body, or its start when `rest` follows.
    var body: ByteBuffer
    /// The rest of a body longer than the bound, passed on as it arrives; `nil` when `body` is all of it.
    var rest: BodyStream? = nil
}

/// Why an exchange with an upstream address gave no answer.
enum UpstreamFailure: Error, Sendable, Equatable {
    /// No connection could be opened (refused, unreachable, or not within the connect timeout).
    case connectFailed(String)
    /// The connection closed before the first byte of an answer: the request may not have been processed
    /// (a kept-alive connection the upstream had just closed), so an idempotent request may be retried.
    case closedBeforeAnswer
    /// The connection broke or closed during the answer.
    case closedDuringAnswer
    /// No first byte within the first-byte timeout, or no whole answer within the total timeout.
    case timedOut(String)
    /// The answer is not valid HTTP/1.1.
    case badAnswer(String)
    /// The request's streamed body broke off (the client went away, or its body went over the limit).
    case requestBodyBroke(String)
    /// The client closed its connection before the answer began (``ClientDeparture``).
    case clientLeft

    /// Whether a retry on another connection may repeat an idempotent request safely and usefully.
    var allowsRetry: Bool {
        switch self {
        case .connectFailed, .closedBeforeAnswer: true
        case .closedDuringAnswer, .timedOut, .badAnswer, .requestBodyBroke, .clientLeft: false
        }
    }

    /// Whether the failure counts against the address's health (passive ejection): not when the client
    /// ended the exchange.
    var countsAgainstAddress: Bool {
        switch self {
        case .requestBodyBroke, .clientLeft: false
        case .connectFailed, .closedBeforeAnswer, .closedDuringAnswer, .timedOut, .badAnswer: true
        }
    }
}

/// One request and its answer on a kept-alive upstream connection: a pure state machine that
/// ``UpstreamResponseHandler`` drives with each response part and event, and tests drive without sockets.
///
/// An answer whose body fits the bound (`bufferedBodyBytes`) is read whole. A longer one, declared so by
/// its `Content-Length` or found so once more than the bound has arrived, is streamed: its head and the
/// body read so far are handed over at once (``Action/beginStream``), and each later part is passed on as
/// it arrives (``Action/forward(_:)``) until its end (``Action/endStream(reusable:)``).
struct UpstreamExchange {
    /// What the handler does after an event.
    enum Action: Equatable {
        /// Nothing yet.
        case none
        /// The answer is complete and read whole; the connection may carry another request when `reusable`.
        case answer(reusable: Bool)
        /// The body is longer than the bound: hand over ``answer`` (the head and the body so far) and pass the
        /// rest on as it arrives.
        case beginStream
        /// Pass on this part of a streamed body.
        case forward(ByteBuffer)
        /// The streamed body ended; the connection may carry another request when `reusable`.
        case endStream(reusable: Bool)
        /// The exchange failed (before the answer was handed over, or in the middle of a streamed body); the
        /// connection must be closed.
        case fail(UpstreamFailure)
    }

    private enum State {
        case awaitingHead
        case receivingBody
        case streaming
        case done
    }

    private var state = State.awaitingHead
    private let bufferedBodyBytes: Int
    private let requestKeepsAlive: Bool
    /// The answer so far: when streamed, its head and the body read before it was handed over.
    private(set) var answer = UpstreamAnswer(status: 0, headers: [], body: ByteBuffer())
    /// The body's length as the answer's `Content-Length` declares it, if it does.
    private(set) var declaredLength: Int?
    private var responseKeepsAlive = true

    /// Starts an exchange for a request that keeps the connection alive when `requestKeepsAlive`.
    /// - Parameter bufferedBodyBytes: The longest body read whole; a longer one is streamed.
    init(bufferedBodyBytes: Int, requestKeepsAlive: Bool = true) {
        self.bufferedBodyBytes = bufferedBodyBytes
        self.requestKeepsAlive = requestKeepsAlive
    }

    /// A response part arrived.
    mutating func read(_ part: HTTPClientResponsePart) -> Action {
        switch (self.state, part) {
        case (.awaitingHead, .head(let head)):
            // An interim 1xx answer is not the answer: wait for the final one (RFC 9110 §15.2).
            if (100..<200).contains(head.status.code), head.status != .switchingProtocols {
                return .none
            }
            // A final status outside 200–599 is no valid answer (RFC 9110 §15), and `101` answers an upgrade
            // the edge never asks for (it does not forward `Upgrade`).
            guard (200..<600).contains(head.status.code) else {
                self.state = .done
                return .fail(.badAnswer("the status \(head.status.code) is not a final status an upstream may answer"))
            }
            self.answer.status = Int(head.status.code)
            self.answer.headers = head.headers.map { ($0.name, $0.value) }
            self.responseKeepsAlive = head.isKeepAlive
            self.declaredLength = head.headers["content-length"].first.flatMap { Int($0) }
            if let declared = self.declaredLength, declared > self.bufferedBodyBytes {
                self.state = .streaming
                return .beginStream
            }
            self.state = .receivingBody
            return .none
        case (.receivingBody, .body(var chunk)):
            self.answer.body.writeBuffer(&chunk)
            guard self.answer.body.readableBytes > self.bufferedBodyBytes else { return .none }
            self.state = .streaming
            return .beginStream
        case (.receivingBody, .end):
            self.state = .done
            return .answer(reusable: self.requestKeepsAlive && self.responseKeepsAlive)
        case (.streaming, .body(let chunk)):
            return .forward(chunk)
        case (.streaming, .end):
            self.state = .done
            return .endStream(reusable: self.requestKeepsAlive && self.responseKeepsAlive)
        case (.done, _):
            return .none
        default:
            self.state = .done
            return .fail(.badAnswer("the answer's parts arrived out of order"))
        }
    }

    /// The connection closed or failed (`error` is the decoder's or the socket's, if any).
    mutating func closed(error: (any Error)?) -> Action {
        defer { self.state = .done }
        switch self.state {
        case .awaitingHead:
            if let error = error as? HTTPParserError { return .fail(.badAnswer("the answer is not valid HTTP/1.1: \(error)")) }
            return .fail(.closedBeforeAnswer)
        case .receivingBody, .streaming:
            if let error = error as? HTTPParserError { return .fail(.badAnswer("the answer is not valid HTTP/1.1: \(error)")) }
            return .fail(.closedDuringAnswer)
        case .done:
            return .none
        }
    }

    /// A timeout fired: `firstByte` when no answer has begun, else the total one.
    mutating func timedOut(_ description: String) -> Action {
        guard self.state != .done else { return .none }
        self.state = .done
        return .fail(.timedOut(description))
    }

    /// The one the streamed body was for gave it up (its client went away, or it needs no body): the rest
    /// will not be read, so the connection must be closed.
    mutating func abandoned() -> Action {
        guard self.state == .streaming else { return .none }
        self.state = .done
        return .fail(.closedDuringAnswer)
    }

    /// The answer so far, handed over: the exchange keeps no copy of its body.
    mutating func takeAnswer() -> UpstreamAnswer {
        let answer = self.answer
        self.answer.body = ByteBuffer()
        return answer
    }

    /// The request's streamed body broke off before its end: the exchange fails, the connection is closed.
    mutating func requestBodyBroke(_ reason: String) -> Action {
        guard self.state != .done else { return .none }
        self.state = .done
        return .fail(.requestBodyBroke(reason))
    }

    /// The client closed its connection before the answer began: the exchange fails, the connection is closed.
    mutating func clientLeft() -> Action {
        guard !self.hasBegun else { return .none }
        self.state = .done
        return .fail(.clientLeft)
    }

    /// Whether the answer's head has arrived.
    var hasBegun: Bool {
        if case .awaitingHead = self.state { false } else { true }
    }
}
