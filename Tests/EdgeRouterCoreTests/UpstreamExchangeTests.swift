@testable import EdgeRouterCore
import NIOCore
import NIOHTTP1
import Testing

/// One upstream exchange's state machine, without sockets: an answer within the bound read whole, a
/// longer one handed over at its start and streamed, and failures before and during the answer.
struct UpstreamExchangeTests {
    static func head(_ status: HTTPResponseStatus = .ok, _ headers: [(String, String)] = []) -> HTTPClientResponsePart {
        .head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers)))
    }

    static func body(_ count: Int) -> HTTPClientResponsePart {
        .body(ByteBuffer(repeating: UInt8(ascii: "x"), count: count))
    }

    @Test func anAnswerWithinTheBoundIsReadWhole() {
        var exchange = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(exchange.read(Self.head(.ok, [("Content-Length", "10")])) == .none)
        #expect(exchange.read(Self.body(6)) == .none)
        #expect(exchange.read(Self.body(4)) == .none)
        #expect(exchange.read(.end(nil)) == .answer(reusable: true))
        #expect(exchange.takeAnswer().body.readableBytes == 10)
    }

    @Test func aDeclaredLengthOverTheBoundIsStreamedFromTheHead() {
        var exchange = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(exchange.read(Self.head(.ok, [("Content-Length", "11")])) == .beginStream)
        #expect(exchange.declaredLength == 11)
        #expect(exchange.takeAnswer().body.readableBytes == 0)
        #expect(exchange.read(Self.body(11)) == .forward(ByteBuffer(repeating: UInt8(ascii: "x"), count: 11)))
        #expect(exchange.read(.end(nil)) == .endStream(reusable: true))
    }

    @Test func aChunkedAnswerIsStreamedOnceMoreThanTheBoundArrived() {
        var exchange = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(exchange.read(Self.head()) == .none)
        #expect(exchange.read(Self.body(8)) == .none)
        #expect(exchange.read(Self.body(8)) == .beginStream)
        #expect(exchange.takeAnswer().body.readableBytes == 16, "what arrived so far goes with the head")
        #expect(exchange.read(Self.body(3)) == .forward(ByteBuffer(repeating: UInt8(ascii: "x"), count: 3)))
        #expect(exchange.read(.end(nil)) == .endStream(reusable: true))
    }

    @Test func anAnswerThatClosesTheConnectionLeavesItUnreusable() {
        var exchange = UpstreamExchange(bufferedBodyBytes: 10)
        _ = exchange.read(Self.head(.ok, [("Content-Length", "20"), ("Connection", "close")]))
        _ = exchange.read(Self.body(20))
        #expect(exchange.read(.end(nil)) == .endStream(reusable: false))
        var closing = UpstreamExchange(bufferedBodyBytes: 10, requestKeepsAlive: false)
        _ = closing.read(Self.head(.ok, [("Content-Length", "0")]))
        #expect(closing.read(.end(nil)) == .answer(reusable: false))
    }

    @Test func aClientThatLeavesBeforeTheHeadEndsTheExchangeWithoutRetryOrBlameAndAfterItChangesNothing() {
        var waiting = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(waiting.clientLeft() == .fail(.clientLeft))
        #expect(waiting.read(Self.head(.ok, [("Content-Length", "0")])) == .none, "the exchange is over")
        #expect(!UpstreamFailure.clientLeft.allowsRetry && !UpstreamFailure.clientLeft.countsAgainstAddress)
        #expect(!UpstreamFailure.requestBodyBroke("the client closed its connection").countsAgainstAddress)
        #expect(UpstreamFailure.closedBeforeAnswer.countsAgainstAddress)
        var streaming = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(streaming.read(Self.head(.ok, [("Content-Length", "20")])) == .beginStream)
        #expect(streaming.clientLeft() == .none, "a begun answer is the streamed body's to give up")
    }

    @Test func failuresBeforeAndDuringTheAnswer() {
        var early = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(early.closed(error: nil) == .fail(.closedBeforeAnswer), "an idempotent request may be retried")
        var interim = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(interim.read(Self.head(.continue)) == .none, "a 1xx is not the answer")
        #expect(interim.hasBegun == false)
        for status in [HTTPResponseStatus.switchingProtocols, HTTPResponseStatus(statusCode: 999), HTTPResponseStatus(statusCode: 600)] {
            var invalid = UpstreamExchange(bufferedBodyBytes: 10)
            guard case .fail(.badAnswer) = invalid.read(Self.head(status, [("Content-Length", "0")])) else {
                Issue.record("status \(status.code) was taken for an answer")
                continue
            }
        }
        var streaming = UpstreamExchange(bufferedBodyBytes: 10)
        _ = streaming.read(Self.head(.ok, [("Content-Length", "100")]))
        #expect(streaming.closed(error: nil) == .fail(.closedDuringAnswer))
        #expect(streaming.closed(error: nil) == .none, "once")
        var timed = UpstreamExchange(bufferedBodyBytes: 10)
        _ = timed.read(Self.head(.ok, [("Content-Length", "100")]))
        #expect(timed.timedOut("total") == .fail(.timedOut("total")))
    }

    @Test func aStreamedBodyGivenUpEndsTheExchangeAndNothingElseDoes() {
        var exchange = UpstreamExchange(bufferedBodyBytes: 10)
        #expect(exchange.abandoned() == .none, "nothing streams yet")
        _ = exchange.read(Self.head(.ok, [("Content-Length", "100")]))
        #expect(exchange.abandoned() == .fail(.closedDuringAnswer))
        #expect(exchange.read(Self.body(5)) == .none, "what comes after is ignored")
        var whole = UpstreamExchange(bufferedBodyBytes: 10)
        _ = whole.read(Self.head(.ok, [("Content-Length", "100")]))
        _ = whole.read(.end(nil))
        #expect(whole.abandoned() == .none, "an ended exchange is not given up")
    }
}
