import Foundation
import GatehouseObservability

/// The paths of HTTP upstream routes whose cached answers every edge drops (docs/protocol.md, "Path
/// invalidation messages"): published by an edge after a `2xx` write through an upstream route, and by
/// anything else that changed data behind an upstream (`redis-cli PUBLISH`); also the body of the admin
/// endpoint `POST /_gatehouse/invalidate`.
///
/// `{"v":1,"paths":["/articles/7","/articles"],"origin":"edge-host-4242-1f2e3d4c"}`: `v` is the format
/// (`1`; may be left out), `paths` one to 1000 paths as clients request them from the edge (no query),
/// `origin` who published it (an edge skips its own messages; optional). A path's empty segments are
/// dropped (`/articles//7` is `/articles/7`), as in the cache's path tags.
package struct PathInvalidationMessage: Sendable, Equatable {
    /// The channel of the edge setting `events.path_invalidations_channel`.
    package static let defaultChannel = "gatehouse:invalidations:paths"
    /// The format this edge reads and writes (`v`).
    package static let format = 1
    /// The most paths one message carries.
    package static let maximumPaths = 1000
    /// The longest path, in bytes.
    package static let maximumPathBytes = 2048

    /// Why a message (or an admin request's body) cannot be read: what is wrong, for the log or a `400`.
    package struct Unreadable: Error, Equatable {
        /// What is wrong.
        package let reason: String
    }

    /// The paths, normalized (empty segments dropped), at least one.
    package var paths: [String]
    /// Who published it; `nil` when the publisher did not say.
    package var origin: String?

    /// Creates a message.
    /// - Parameters:
    ///   - paths: Normalized paths (``HTTPUpstreamRoute/normalized(_:)``).
    ///   - origin: Who publishes it.
    package init(paths: [String], origin: String?) {
        self.paths = paths
        self.origin = origin
    }

    /// Reads a message.
    /// - Parameter json: The JSON text's bytes.
    /// - Throws: ``Unreadable`` naming what is wrong.
    package init(json: [UInt8]) throws(Unreadable) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) else {
            throw Unreadable(reason: "the body is not JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw Unreadable(reason: #"expected a JSON object such as {"paths":["/articles/7"]}"#)
        }
        if let unknown = fields.keys.sorted().first(where: { !["v", "paths", "origin"].contains($0) }) {
            throw Unreadable(reason: "unknown field \"\(unknown)\" (the fields are v, paths and origin)")
        }
        if let format = fields["v"], (format as? Int) != Self.format {
            throw Unreadable(reason: "v must be \(Self.format), the only format there is")
        }
        guard let list = fields["paths"] as? [Any] else {
            throw Unreadable(reason: "paths must be a list of paths such as [\"/articles/7\"]")
        }
        guard (1...Self.maximumPaths).contains(list.count) else {
            throw Unreadable(reason: "paths must hold 1 to \(Self.maximumPaths) paths, not \(list.count)")
        }
        var paths: [String] = []
        paths.reserveCapacity(list.count)
        for (index, element) in list.enumerated() {
            guard let path = element as? String, Self.isPath(path) else {
                throw Unreadable(
                    reason: "paths[\(index)] must be a path starting with / of at most \(Self.maximumPathBytes) visible ASCII characters, without ? or #"
                )
            }
            paths.append(HTTPUpstreamRoute.normalized(path))
        }
        if let origin = fields["origin"], !(origin is String) {
            throw Unreadable(reason: "origin must be a string")
        }
        self.init(paths: paths, origin: fields["origin"] as? String)
    }

    /// Reads a message of a pub/sub channel.
    /// - Throws: ``Unreadable`` naming what is wrong.
    package init(jsonText: String) throws(Unreadable) {
        try self.init(json: Array(jsonText.utf8))
    }

    /// The message as JSON text, `v` first.
    package var jsonText: String {
        var text = #"{"v":"# + String(Self.format) + #","paths":"# + self.pathsJSON
        if let origin = self.origin {
            text.append(#","origin":"#)
            JSONString.append(origin, to: &text)
        }
        text.append("}")
        return text
    }

    /// The paths as a JSON array.
    var pathsJSON: String {
        var text = "["
        for (index, path) in self.paths.enumerated() {
            if index > 0 { text.append(",") }
            JSONString.append(path, to: &text)
        }
        text.append("]")
        return text
    }

    /// Whether `text` is a path a message may carry: `/` first, visible ASCII, no query or fragment.
    static func isPath(_ text: String) -> Bool {
        text.hasPrefix("/") && text.utf8.count <= Self.maximumPathBytes
            && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
    }
}
