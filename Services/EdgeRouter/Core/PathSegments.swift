/// The segments of a request path after its first `/` (`/v1/a/b`: `v1`, `a`, `b`; `/v1//b`: `v1`, an empty
/// one, `b`), as UTF-8 slices of the path: matching a route template allocates nothing.
struct PathSegments: IteratorProtocol {
    private let bytes: Substring.UTF8View
    private var position: Substring.UTF8View.Index?

    /// - Parameter path: The path, without the query; what comes before its first `/` is not a segment.
    init(_ path: String) {
        self.bytes = Substring(path).utf8
        self.position = self.bytes.firstIndex(of: UInt8(ascii: "/")).map { self.bytes.index(after: $0) }
    }

    mutating func next() -> Substring.UTF8View.SubSequence? {
        guard let start = self.position else { return nil }
        guard let slash = self.bytes[start...].firstIndex(of: UInt8(ascii: "/")) else {
            self.position = nil
            return self.bytes[start...]
        }
        self.position = self.bytes.index(after: slash)
        return self.bytes[start..<slash]
    }
}
