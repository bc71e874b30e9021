extension Duration {
    /// The duration in whole milliseconds, rounded up; zero for negative durations.
    public var wholeMilliseconds: Int {
        let (seconds, attoseconds) = self.components
        return max(0, Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }
}
