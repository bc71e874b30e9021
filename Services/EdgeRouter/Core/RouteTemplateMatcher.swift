/// A route's template and methods made ready for matching requests (``RouteTable/match(method:path:)``):
/// literal segments as UTF-8 bytes compared against the path's bytes, the methods as bits; made once when
/// the route table is read, so matching copies no route and allocates nothing. It splits the path itself,
/// over the bytes of `String.withUTF8`, rather than with ``PathSegments`` (which the cache key uses): walking
/// `Substring.UTF8View` indices for every candidate route cost 5,500–7,000 more instructions per request in
/// `bench/edge-instructions.sh` (A 178,568 → 184,287; M 316,893 → 322,383).
struct RouteTemplateMatcher: Sendable, Equatable {
    /// One segment of the template.
    enum Segment: Sendable, Equatable {
        /// Must equal these bytes.
        case literal([UInt8])
        /// Captures any one non-empty segment under this name.
        case parameter(String)
    }

    private let segments: [Segment]
    /// How many of the template's segments are literal: the more, the more specific the template.
    let specificity: Int
    /// How many of the template's segments are parameters.
    private let parameterCount: Int
    /// The route's methods, one bit each (``methodBit(_:)``).
    private let methods: UInt8

    /// Prepares the template and methods of `route`.
    init(_ route: EdgeRoute) {
        self.segments = route.segments.map {
            switch $0 {
            case .literal(let text): .literal(Array(text.utf8))
            case .parameter(let name): .parameter(name)
            }
        }
        self.specificity = self.segments.count { if case .literal = $0 { true } else { false } }
        self.parameterCount = self.segments.count - self.specificity
        self.methods = route.methods.reduce(0) { $0 | Self.methodBit($1) }
    }

    /// The bit of a method among those a route may serve (``RouteTable/upstreamMethods``); `0` for any other.
    static func methodBit(_ method: String) -> UInt8 {
        RouteTable.upstreamMethods.firstIndex(of: method).map { 1 << $0 } ?? 0
    }

    /// Whether the route serves the method of `bit` (``methodBit(_:)``).
    func serves(_ bit: UInt8) -> Bool {
        self.methods & bit != 0
    }

    /// Whether the template matches a path.
    /// - Parameters:
    ///   - path: The path's UTF-8 bytes.
    ///   - first: Where its first segment starts, after its first `/`; `nil` when it has no `/` (no segments).
    func matches(_ path: UnsafeBufferPointer<UInt8>, first: Int?) -> Bool {
        guard var position = first else { return false }
        for segment in self.segments {
            // The segment before was the path's last.
            guard position <= path.count else { return false }
            let end = path[position...].firstIndex(of: UInt8(ascii: "/")) ?? path.count
            switch segment {
            case .literal(let bytes):
                guard end - position == bytes.count, path[position..<end].elementsEqual(bytes) else { return false }
            case .parameter:
                guard end > position else { return false }
            }
            position = end + 1
        }
        return position == path.count + 1
    }

    /// The parameters of a path the template matches (``matches(_:first:)``), by name.
    func parameters(of path: UnsafeBufferPointer<UInt8>, first: Int) -> RouteParameters {
        var parameters = RouteParameters(capacity: self.parameterCount)
        var position = first
        for segment in self.segments {
            let end = path[position...].firstIndex(of: UInt8(ascii: "/")) ?? path.count
            if case .parameter(let name) = segment {
                parameters.append(name, String(decoding: UnsafeBufferPointer(rebasing: path[position..<end]), as: UTF8.self))
            }
            position = end + 1
        }
        return parameters
    }
}
