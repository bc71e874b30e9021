import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches the issuer's JWKS document with one plain HTTP/1.1 `GET` (the issuer is reached on the internal
/// network; put TLS in front of it for anything else), bounded in size and time.
package struct JWKSFetcher: Sendable {
    /// Why a fetch failed.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong, naming the URL.
        package let description: String
    }

    /// The largest document accepted.
    package static let maximumBytes = 256 * 1024

    private let host: String
    private let port: Int
    private let path: String
    private let timeout: Duration

    /// Creates a fetcher.
    /// - Parameters:
    ///   - url: An `http://host:port/path` URL.
    ///   - timeout: How long a fetch may take.
    /// - Throws: ``Failure`` for a URL that is not plain HTTP with a host.
    package init(url: String, timeout: Duration = .seconds(2)) throws {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host, !host.isEmpty else {
            throw Failure(description: "the JWKS URL '\(url)' must be http://host[:port]/path")
        }
        self.host = host
        self.port = components.port ?? 80
        self.path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.timeout = timeout
    }

    /// Fetches the document.
    /// - Returns: The body of a `200` answer.
    /// - Throws: ``Failure`` for a connection failure, a timeout, another status or an oversized body.
    package func fetch() async throws -> String {
        let url = "http://\(self.host):\(self.port)\(self.path)"
        do {
            return try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask { try await self.get() }
                group.addTask {
                    try await Task.sleep(for: self.timeout)
                    throw Failure(description: "GET \(url) took longer than \(self.timeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "GET \(url) failed: \(error)")
        }
    }

    private func get() async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(self.timeout))
            .connect(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: self.path)
            head.headers.add(name: "Host", value: "\(self.host):\(self.port)")
            head.headers.add(name: "Accept", value: "application/jwk-set+json, application/json")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            var status: HTTPResponseStatus = .ok
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = response.status
                case .body(var chunk):
                    guard body.readableBytes + chunk.readableBytes <= Self.maximumBytes else {
                        throw Failure(description: "the JWKS at \(self.path) is larger than \(Self.maximumBytes) bytes")
                    }
                    body.writeBuffer(&chunk)
                case .end:
                    guard status == .ok else {
                        throw Failure(description: "GET \(self.path) on \(self.host):\(self.port) answered \(status.code)")
                    }
                    return String(buffer: body)
                }
            }
            throw Failure(description: "\(self.host):\(self.port) closed the connection before the JWKS was complete")
        }
    }
}
