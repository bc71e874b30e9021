/// Copies text (its UTF-8 bytes as they are) and decimal integers into room reserved for them, each copy
/// checked against the room's end: how the edge writes a message head (``HTTPWireFormat``), the per-request
/// values of its `RateLimit` fields and the usual cache key, in one allocation each instead of one append
/// (and one integer's text) per part.
struct ASCIIBytes {
    /// The most bytes ``put(decimal:)`` writes.
    static let maximumDecimalLength = 20

    /// The room being filled.
    let room: UnsafeMutableRawBufferPointer
    /// The bytes written so far, from the room's start.
    private(set) var count = 0

    /// Starts filling `room` from its start.
    init(room: UnsafeMutableRawBufferPointer) {
        self.room = room
    }

    /// Writes one byte.
    @inline(__always)
    mutating func put(_ byte: UInt8) {
        precondition(self.count < self.room.count, "more bytes than counted")
        self.room[self.count] = byte
        self.count += 1
    }

    /// Writes a static text's bytes.
    @inline(__always)
    mutating func put(_ text: StaticString) {
        self.copy(UnsafeRawPointer(text.utf8Start), text.utf8CodeUnitCount)
    }

    /// Writes a text's UTF-8 bytes.
    @inline(__always)
    mutating func put(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes in
            if let base = bytes.baseAddress { self.copy(UnsafeRawPointer(base), bytes.count) }
        }
        if copied == nil {
            for byte in text.utf8 { self.put(byte) }
        }
    }

    /// Writes an integer in decimal, with a `-` when negative.
    mutating func put(decimal value: Int) {
        if value < 0 { self.put(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var digits = 1
        var bound: UInt = 10
        while digits < 20, magnitude >= bound {
            digits += 1
            bound = bound &* 10
        }
        precondition(digits <= self.room.count - self.count, "more bytes than counted")
        var rest = magnitude
        var position = self.count + digits
        repeat {
            position -= 1
            self.room[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        self.count += digits
    }

    @inline(__always)
    private mutating func copy(_ source: UnsafeRawPointer, _ count: Int) {
        precondition(count <= self.room.count - self.count, "more bytes than counted")
        (self.room.baseAddress! + self.count).copyMemory(from: source, byteCount: count)
        self.count += count
    }
}
