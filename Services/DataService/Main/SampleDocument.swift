/// The JSON bodies `data-service seed` writes: a few hundred bytes of varied words, so that list, search
/// and cache benchmarks see realistic documents.
enum SampleDocument {
    private static let words = [
        "gateway", "latency", "cache", "token", "window", "replica", "invalidate", "commit", "bucket", "router",
        "redis", "sqlite", "burst", "quota", "retry", "signal", "cluster", "ledger", "harbor", "lantern",
    ]

    static func body(number: Int) -> String {
        let pick = { (offset: Int) in Self.words[(number &* 7 &+ offset &* 13) % Self.words.count] }
        let title = "\(pick(0)) \(pick(1)) \(number)"
        let text = (2..<30).map(pick).joined(separator: " ")
        return #"{"title":"\#(title)","text":"\#(text)","tags":["\#(pick(3))","\#(pick(5))"],"n":\#(number)}"#
    }
}
