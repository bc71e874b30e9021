extension Sequence where Element: Sendable {
    /// Transforms every element at once, each in its own child task, and returns the results in the
    /// sequence's order (not the order they finished in).
    ///
    /// The child tasks inherit the caller's task executor preference, so work started on an event loop
    /// stays there.
    /// - Parameter transform: Runs once per element, concurrently with the others.
    /// - Returns: One result per element, in order.
    public func concurrentMap<Transformed: Sendable>(_ transform: @escaping @Sendable (Element) async -> Transformed) async -> [Transformed] {
        await withTaskGroup(of: (Int, Transformed).self) { group in
            var count = 0
            for (index, element) in self.enumerated() {
                group.addTask { (index, await transform(element)) }
                count += 1
            }
            var results = [Transformed?](repeating: nil, count: count)
            for await (index, result) in group {
                results[index] = result
            }
            return results.compactMap { $0 }
        }
    }
}
