#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's random generator (`arc4random_buf`: `getrandom` on Linux) read 512 bytes at a time: one system call
/// for 64 numbers, where `SystemRandomNumberGenerator` makes one for each (two per request ID). Each HTTP
/// connection keeps its own, so no lock is needed.
struct BufferedSystemRandomNumberGenerator: RandomNumberGenerator {
    private static let count = 64
    private var numbers: [UInt64] = []
    private var position = 0

    mutating func next() -> UInt64 {
        if self.position == self.numbers.count {
            self.refill()
        }
        defer { self.position += 1 }
        return self.numbers[self.position]
    }

    private mutating func refill() {
        if self.numbers.isEmpty { self.numbers = Array(repeating: 0, count: Self.count) }
        self.numbers.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
        self.position = 0
    }
}
