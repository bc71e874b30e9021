import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The answer to an ``httpGet(port:path:)``.
public struct HTTPProbeResponse: Sendable {
    /// The status code.
    public let status: Int
    /// The header fields, names lower-cased.
    public let headers: [String: String]
    /// The body as text.
    public let body: String
}

/// A blocking HTTP/1.1 `GET` to 127.0.0.1 with `Connection: close`, for reading an admin server's
/// `/metrics` and `/readyz` in tests.
public func httpGet(port: Int, path: String) throws -> HTTPProbeResponse {
    try httpRequest(port: port, method: "GET", path: path)
}

/// ``httpGet(port:path:)`` on a thread of its own, for a server running inside the test process: the
/// blocking call must not hold one of the few threads that run the server's tasks (readiness checks).
public func httpGetOffPool(port: Int, path: String) async throws -> HTTPProbeResponse {
    try await httpRequestOffPool(port: port, method: "GET", path: path)
}

/// ``httpRequest(port:method:path:headers:body:)`` on a thread of its own, for a server running inside the
/// test process, or one that asks such a server before it answers.
public func httpRequestOffPool(
    port: Int, method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
) async throws -> HTTPProbeResponse {
    try await onThreadOfItsOwn { try httpRequest(port: port, method: method, path: path, headers: headers, body: body) }
}

/// Runs blocking work (a socket read) on a thread of its own, so that it holds none of the few threads that
/// run the tasks of services inside the test process.
/// - Parameter work: What to run.
/// - Returns: What `work` returned.
/// - Throws: What `work` threw.
public func onThreadOfItsOwn<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// A blocking HTTP/1.1 request to 127.0.0.1 with `Connection: close`: any method, headers and body bytes
/// (which need not be UTF-8), so tests can send exactly what a broken client would.
/// - Parameters:
///   - port: The server's port.
///   - method: The method, e.g. `POST`.
///   - path: The request target.
///   - headers: Extra header fields, in order; `Content-Length` is added for a body.
///   - body: The body bytes, if any.
public func httpRequest(port: Int, method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPProbeResponse {
    let descriptor = try connectedLoopbackSocket(port: port)
    defer { close(descriptor) }
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if let body { head += "Content-Length: \(body.count)\r\n" }
    let request = Array((head + "\r\n").utf8) + (body ?? [])
    var sent = 0
    while sent < request.count {
        let written = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard written > 0 else { throw LoopbackSocketError("send()") }
        sent += written
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let received = recv(descriptor, &chunk, chunk.count, 0)
        // A server may reset a connection whose request it refused before reading all of it.
        if received < 0 { if bytes.isEmpty { throw LoopbackSocketError("recv()") } else { break } }
        if received == 0 { break }
        bytes.append(contentsOf: chunk.prefix(received))
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else {
        throw LoopbackSocketError("HTTP response without header end")
    }
    let (status, headers) = HTTPProbeResponse.head(text[..<split.lowerBound])
    return HTTPProbeResponse(status: status, headers: headers, body: String(text[split.upperBound...]))
}

extension HTTPProbeResponse {
    /// Splits HTTP/1.1 responses sent one after another on one connection, each body framed by its
    /// `Content-Length` (none for an answer to `HEAD`, a 1xx, 204 or 304); stops at the first incomplete one.
    /// - Parameters:
    ///   - text: What the connection received.
    ///   - heads: Per expected response, whether it answers `HEAD` (so its length names no body sent).
    public static func sequence(_ text: String, heads: [Bool]) -> [HTTPProbeResponse] {
        var rest = Substring(text)
        var responses: [HTTPProbeResponse] = []
        for headOnly in heads {
            guard let end = rest.range(of: "\r\n\r\n") else { break }
            let (status, headers) = Self.head(rest[..<end.lowerBound])
            let bodyAllowed = !headOnly && status >= 200 && status != 204 && status != 304
            let length = bodyAllowed ? Int(headers["content-length"] ?? "0") ?? 0 : 0
            let body = rest[end.upperBound...].utf8
            guard body.count >= length else { break }
            responses.append(HTTPProbeResponse(status: status, headers: headers, body: String(decoding: body.prefix(length), as: UTF8.self)))
            rest = Substring(body.dropFirst(length))
        }
        return responses
    }

    /// The status and header fields (names lower-cased) of a response head without its blank line.
    static func head(_ head: Substring) -> (status: Int, headers: [String: String]) {
        let lines = head.split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0, headers)
    }
}

/// The value of one Prometheus sample in a `/metrics` text, e.g.
/// `prometheusSample(text, "gatehouse_limiter_decisions_total", ["policy": "public", "outcome": "allowed"])`;
/// `nil` when no sample has exactly those labels.
public func prometheusSample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
        let rest = line.dropFirst(name.count)
        var sampleLabels: [String: String] = [:]
        var valueText = rest
        if rest.hasPrefix("{") {
            guard let close = rest.firstIndex(of: "}") else { continue }
            for pair in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                sampleLabels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            valueText = rest[rest.index(after: close)...]
        } else if !rest.hasPrefix(" ") {
            continue
        }
        if sampleLabels == labels, let value = Double(valueText.trimmingCharacters(in: .whitespaces)) {
            return value
        }
    }
    return nil
}
