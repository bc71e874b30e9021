import NIOCore
import Testing

@testable import GatehouseRedis

@Suite("RESP parsing and encoding, without sockets")
struct RESPProtocolTests {
    @Test func parsesRepliesFedOneByteAtATime() throws {
        let stream = "*3\r\n$3\r\nfoo\r\n:42\r\n*2\r\n$-1\r\n+OK\r\n"
            + "-ERR bad thing\r\n"
            + "$5\r\nh\0llo\r\n"
            + "*-1\r\n"
            + ":-7\r\n"
            + "$0\r\n\r\n"
        let parser = try RESPReplyParser()
        var replies: [RESPReplyParser.Reply] = []
        for byte in Array(stream.utf8) {
            try parser.feed(ByteBuffer(bytes: [byte]))
            while let reply = try parser.nextReply() {
                replies.append(reply)
            }
        }
        #expect(
            replies == [
                .value(
                    .array([
                        .bulkString(ByteBuffer(string: "foo")),
                        .integer(42),
                        .array([.null, .simpleString("OK")]),
                    ])
                ),
                .serverError("ERR bad thing"),
                .value(.bulkString(ByteBuffer(bytes: [0x68, 0x00, 0x6C, 0x6C, 0x6F]))),
                .value(.null),
                .value(.integer(-7)),
                .value(.bulkString(ByteBuffer())),
            ]
        )
    }

    @Test func waitsForTheRestOfAnIncompleteReply() throws {
        let parser = try RESPReplyParser()
        try parser.feed(ByteBuffer(string: "$10\r\n01234"))
        #expect(try parser.nextReply() == nil)
        try parser.feed(ByteBuffer(string: "56789\r\n"))
        #expect(try parser.nextReply() == .value(.bulkString(ByteBuffer(string: "0123456789"))))
        #expect(try parser.nextReply() == nil)
    }

    @Test func deliversAnErrorInsideAnArrayAsAServerError() throws {
        let parser = try RESPReplyParser()
        try parser.feed(ByteBuffer(string: "*2\r\n+OK\r\n-WRONGTYPE Operation against a key\r\n"))
        #expect(try parser.nextReply() == .serverError("WRONGTYPE Operation against a key"))
    }

    @Test func rejectsBytesThatAreNotRESP() throws {
        let parser = try RESPReplyParser()
        try parser.feed(ByteBuffer(string: "!oops\r\n"))
        #expect(throws: RESPReplyParserError.self) {
            try parser.nextReply()
        }
    }

    @Test func encodesCommandsBinarySafe() throws {
        let text = try RESPCommandEncoder.encode(["SET", "key", ""])
        #expect(String(buffer: text) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n")

        let binary = try RESPCommandEncoder.encode([ByteBuffer(string: "ECHO"), ByteBuffer(bytes: [0x00, 0xFF, 0x0D, 0x0A])])
        #expect(Array(binary.readableBytesView) == Array("*2\r\n$4\r\nECHO\r\n$4\r\n".utf8) + [0x00, 0xFF, 0x0D, 0x0A] + [0x0D, 0x0A])
    }

    @Test func refusesAnEmptyCommand() {
        #expect {
            try RESPCommandEncoder.encode([String]())
        } throws: { error in
            (error as? RedisError)?.code == .invalidCommand
        }
    }

    @Test func computesTheScriptSHA1LikeRedis() {
        #expect(RedisScript(source: "").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript(source: "return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}
