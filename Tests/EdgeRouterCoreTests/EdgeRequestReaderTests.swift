import Foundation
@testable import EdgeRouterCore
import NIOCore
import NIOHTTP1
import Testing

/// How the edge's HTTP server assembles requests and what it answers about their bodies, driven without sockets.
struct EdgeRequestReaderTests {
    static func head(_ method: HTTPMethod = .PUT, _ headers: [(String, String)] = [], version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/v1/articles/a", headers: HTTPHeaders([("Host", "edge.example")] + headers))
    }

    @Test func aBodyThatFitsIsAnsweredWholeAtItsEnd() throws {
        var reader = EdgeRequestReader(maximumBodyBytes: 10)
        guard case .none = reader.head(Self.head()) else { Issue.record("nothing to do at the head"); return }
        guard case .none = reader.body(ByteBuffer(string: "hello ")) else { Issue.record("still fits"); return }
        guard case .none = reader.body(ByteBuffer(string: "you!")) else { Issue.record("exactly the limit fits"); return }
        guard case .answer(let head, let body) = reader.end() else { Issue.record("answered at the end"); return }
        #expect(head.method == .PUT)
        #expect(String(buffer: body) == "hello you!")
        // The next request starts empty.
        _ = reader.head(Self.head(.GET))
        guard case .answer(_, let next) = reader.end() else { Issue.record("answered"); return }
        #expect(next.readableBytes == 0)
    }

    @Test func continueIsSentOnlyForABodyThatFitsAndOnlyToHTTP11() {
        var reader = EdgeRequestReader(maximumBodyBytes: 100)
        guard case .sendContinue = reader.head(Self.head(.PUT, [("Content-Length", "50"), ("Expect", "100-Continue")])) else {
            Issue.record("100 Continue for a body that fits"); return
        }
        _ = reader.end()
        guard case .none = reader.head(Self.head(.PUT, [("Content-Length", "50"), ("Expect", "100-continue")], version: .http1_0)) else {
            Issue.record("HTTP/1.0 has no 100 Continue"); return
        }
        _ = reader.end()
        guard case .reject(_, .tooLarge, let closeAfterAnswer) = reader.head(Self.head(.PUT, [("Content-Length", "101"), ("Expect", "100-continue")])) else {
            Issue.record("413 instead of 100 Continue"); return
        }
        #expect(closeAfterAnswer, "the client will not send the body: close after the answer")
    }

    @Test func aBodyOverTheLimitIsRefusedOnceAndTheRestDiscardedUntilItsEnd() {
        var reader = EdgeRequestReader(maximumBodyBytes: 4)
        _ = reader.head(Self.head())
        guard case .reject(_, .tooLarge, let closeAfterAnswer) = reader.body(ByteBuffer(string: "12345")) else {
            Issue.record("refused as soon as it is over"); return
        }
        #expect(!closeAfterAnswer, "the client is still sending: wait for the end")
        guard case .none = reader.body(ByteBuffer(string: "more")) else { Issue.record("the rest is discarded silently"); return }
        guard case .close = reader.end() else { Issue.record("closed at the end"); return }

        var declared = EdgeRequestReader(maximumBodyBytes: 4)
        guard case .reject(_, .tooLarge, false) = declared.head(Self.head(.PUT, [("Content-Length", "5")])) else {
            Issue.record("a declared length over the limit is refused at the head"); return
        }
        guard case .none = declared.body(ByteBuffer(string: "12345")) else { Issue.record("discarded"); return }
        guard case .close = declared.end() else { Issue.record("closed at the end"); return }
    }

    @Test func requestTargetsInOriginAndAbsoluteForm() {
        #expect(EdgeConnectionHandler.pathAndQuery("/v1/articles?limit=2&q=a") == ("/v1/articles", "limit=2&q=a"))
        #expect(EdgeConnectionHandler.pathAndQuery("/v1/articles/a") == ("/v1/articles/a", nil))
        #expect(EdgeConnectionHandler.pathAndQuery("/v1/articles?") == ("/v1/articles", ""))
        #expect(EdgeConnectionHandler.pathAndQuery("http://edge:8080/v1/articles?limit=2") == ("/v1/articles", "limit=2"))
        #expect(EdgeConnectionHandler.pathAndQuery("http://edge:8080") == ("/", nil))
        #expect(EdgeConnectionHandler.pathAndQuery("http://edge:8080?x=1") == ("/", "x=1"))
        #expect(EdgeConnectionHandler.pathAndQuery("/dé/jà?q=ü") == ("/dé/jà", "q=ü"))
    }

    @Test func aHeadTheStandardForbidsIsRefusedBeforeItsBodyIsRead() {
        func refusal(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> EdgeRequestReader.Refusal? {
            var reader = EdgeRequestReader(maximumBodyBytes: 100)
            let head = HTTPRequestHead(version: version, method: .GET, uri: "/v1/articles/a", headers: HTTPHeaders(headers))
            guard case .reject(_, let refusal, _) = reader.head(head) else { return nil }
            return refusal
        }
        // RFC 9112 §3.2: no Host in HTTP/1.1, several Host lines, or an invalid Host: 400.
        #expect(refusal([]) == .badHead("an HTTP/1.1 request needs a Host header field"))
        #expect(refusal([], version: .http1_0) == nil, "HTTP/1.0 needs no Host")
        #expect(refusal([("Host", "a"), ("Host", "b")]) == .badHead("the request has 2 Host header fields; it may have one"))
        for bad in ["a b", "a/b", "user@host", "[::1", "host:80a", "host:123456", "[zz::1]"] {
            #expect(refusal([("Host", bad)]) == .badHead("the Host header field is not a valid host[:port]"), "\(bad)")
        }
        for good in ["", "api.example.com", "api.example.com:8080", "127.0.0.1:80", "[::1]:8080", "[2001:db8::1]", "xn--bcher-kva.example"] {
            #expect(refusal([("Host", good)]) == nil, "\(good)")
        }
        // RFC 9112 §6.1: a transfer coding the server does not understand: 501.
        #expect(refusal([("Host", "a"), ("Transfer-Encoding", "gzip, chunked")]) == .unsupportedTransferCoding("gzip"))
        #expect(refusal([("Host", "a"), ("Transfer-Encoding", "Chunked")]) == nil)
    }

    @Test func requestIDsAreKeptWhenPrintableAndShortElseMadeUp() throws {
        var random = BufferedSystemRandomNumberGenerator()
        #expect(RequestID.of("abc-123", using: &random) == "abc-123")
        let long = RequestID.of(String(repeating: "a", count: 129), using: &random)
        let spaced = RequestID.of("a b", using: &random)
        let none = RequestID.of(nil, using: &random)
        for made in [long, spaced, none] {
            // A version-4 UUID that Foundation reads back as the same value, in lower case.
            let parsed = try #require(UUID(uuidString: made), "a new UUID: \(made)")
            #expect(parsed.uuidString.lowercased() == made)
            #expect(Array(made.utf8)[14] == UInt8(ascii: "4"), "version 4: \(made)")
            #expect("89ab".utf8.contains(Array(made.utf8)[19]), "RFC 9562 variant: \(made)")
        }
        #expect(Set((0..<1000).map { _ in RequestID.random(using: &random) }).count == 1000, "past several refills of the buffer")
    }

    @Test func theDateHeaderIsAnIMFFixdate() {
        var date = HTTPDateHeader()
        #expect(date.value(at: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(date.value(at: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT", "the same second again")
        #expect(date.value(at: 1_798_675_200) == "Thu, 31 Dec 2026 00:00:00 GMT")
    }

    @Test func aBodyLongerThanTheStreamingBoundIsAnsweredAtOnceAndTheRestPassedOn() {
        var reader = EdgeRequestReader(maximumBodyBytes: 100)
        guard case .none = reader.head(Self.head(), streamBeyond: 10) else { Issue.record("nothing at the head"); return }
        guard case .none = reader.body(ByteBuffer(string: "0123456789")) else { Issue.record("the bound itself is not streamed"); return }
        guard case .stream(let head, let start) = reader.body(ByteBuffer(string: "ab")) else { Issue.record("streamed beyond the bound"); return }
        #expect(head.method == .PUT && String(buffer: start) == "0123456789ab")
        guard case .forward(let part) = reader.body(ByteBuffer(string: "cd")) else { Issue.record("the rest is passed on"); return }
        #expect(String(buffer: part) == "cd")
        #expect(reader.hasUnreadBody)
        guard case .endStream = reader.end() else { Issue.record("the end is passed on"); return }
        #expect(!reader.hasUnreadBody)
        // A body within the bound is still read whole.
        _ = reader.head(Self.head(), streamBeyond: 10)
        _ = reader.body(ByteBuffer(string: "short"))
        guard case .answer(_, let whole) = reader.end() else { Issue.record("answered whole"); return }
        #expect(String(buffer: whole) == "short")
    }

    @Test func aStreamedBodyOverTheLimitIsAbortedAndTheRestDiscarded() {
        var reader = EdgeRequestReader(maximumBodyBytes: 20)
        _ = reader.head(Self.head(), streamBeyond: 10)
        guard case .stream = reader.body(ByteBuffer(string: "0123456789ab")) else { Issue.record("streamed"); return }
        guard case .abortStream = reader.body(ByteBuffer(string: "0123456789")) else { Issue.record("22 bytes are over the limit"); return }
        guard case .none = reader.body(ByteBuffer(string: "more")) else { Issue.record("discarded"); return }
        guard case .close = reader.end() else { Issue.record("closed at the end"); return }
    }

    @Test func aRequestAnsweredBeforeItsBodyEndedHasTheRestDiscarded() {
        var reader = EdgeRequestReader(maximumBodyBytes: 100)
        _ = reader.head(Self.head(), streamBeyond: 4)
        guard case .stream = reader.body(ByteBuffer(string: "01234")) else { Issue.record("streamed"); return }
        reader.discardRest()
        #expect(reader.hasUnreadBody)
        guard case .none = reader.body(ByteBuffer(string: "56")) else { Issue.record("discarded"); return }
        guard case .close = reader.end() else { Issue.record("closed at the end"); return }
    }
}
