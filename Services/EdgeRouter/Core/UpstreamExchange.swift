import NIOCore
import NIOHTTP1

/// An HTTP upstream's answer, read in full within the body bound.
struct UpstreamAnswer: Sendable {
    /// The status.
    var status: Int
    /// The header fields, in order.
    var headers: [(name: String, value: String)]
    /// The body.
    var body: ByteBuffer
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
    /// The answer is not valid HTTP/1.1, or its body is larger than the bound.
    case badAnswer(String)

    /// Whether a retry on another connection may repeat an idempotent request safely and usefully.
    var allowsRetry: Bool {
        switch self {
        case .connectFailed, .closedBeforeAnswer: true
        case .closedDuringAnswer, .timedOut, .badAnswer: false
        }
    }
}

/// One request and its answer on a kept-alive upstream connection: a pure state machine that
/// ``UpstreamConnection``'s handler drives with each response part and event, and tests drive without sockets.
struct UpstreamExchange {
    /// What the handler does after an event.
    enum Action: Equatable {
        /// Nothing yet.
        case none
        /// The answer is complete; the connection may carry another request when `reusable`.
        case answer(reusable: Bool)
        /// The exchange failed; the connection must be closed.
        case fail(UpstreamFailure)
    }

    /// A completed exchange: the answer, and whether the connection may carry another request.
    struct Outcome: Sendable {
        /// The answer.
        var answer: UpstreamAnswer
        /// Whether both sides kept the connection alive and the answer was read to its end.
        var reusable: Bool
    }

    private enum State {
        case awaitingHead
        case receivingBody
        case done
    }

    private var state = State.awaitingHead
    private let maximumBodyBytes: Int
    private let requestKeepsAlive: Bool
    /// The answer so far.
    private(set) var answer = UpstreamAnswer(status: 0, headers: [], body: ByteBuffer())
    private var responseKeepsAlive = true

    /// Starts an exchange for a request that keeps the connection alive when `requestKeepsAlive`.
    init(maximumBodyBytes: Int, requestKeepsAlive: Bool = true) {
        self.maximumBodyBytes = maximumBodyBytes
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
            self.answer.status = Int(head.status.code)
            self.answer.headers = head.headers.map { ($0.name, $0.value) }
            self.responseKeepsAlive = head.isKeepAlive
            self.state = .receivingBody
            return .none
        case (.receivingBody, .body(var chunk)):
            guard self.answer.body.readableBytes + chunk.readableBytes <= self.maximumBodyBytes else {
                self.state = .done
                return .fail(.badAnswer("the answer's body is larger than \(self.maximumBodyBytes) bytes"))
            }
            self.answer.body.writeBuffer(&chunk)
            return .none
        case (.receivingBody, .end):
            self.state = .done
            return .answer(reusable: self.requestKeepsAlive && self.responseKeepsAlive)
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
        case .receivingBody:
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

    /// Whether the answer's head has arrived.
    var hasBegun: Bool {
        if case .awaitingHead = self.state { false } else { true }
    }
}
