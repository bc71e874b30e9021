import Foundation
import NIOCore
import NIOPosix

/// A response as read off the wire by ``HTTPTestClient``.
struct RawHTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: String
}

/// Sends one HTTP/1.1 request over a fresh TCP connection with `Connection: close` and reads the whole answer.
enum HTTPTestClient {
    static func send(_ method: String, _ path: String, port: Int) async throws -> RawHTTPResponse {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
            var received = ByteBuffer()
            for try await var chunk in inbound {
                received.writeBuffer(&chunk)
            }
            return String(buffer: received)
        }
        return try self.parse(raw)
    }

    struct MalformedResponse: Error {
        var text: String
    }

    private static func parse(_ raw: String) throws -> RawHTTPResponse {
        guard let separator = raw.range(of: "\r\n\r\n") else { throw MalformedResponse(text: raw) }
        let lines = raw[..<separator.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw MalformedResponse(text: raw) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw MalformedResponse(text: raw) }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawHTTPResponse(status: status, headers: headers, body: String(raw[separator.upperBound...]))
    }
}
