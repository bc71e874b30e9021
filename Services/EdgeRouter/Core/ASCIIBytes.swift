/// Copies ASCII text and decimal integers into room reserved for them, each copy checked against the room's
/// end: how the edge writes a message head (``HTTPWireFormat``) and the per-request values of its
/// `RateLimit` fields, in one allocation each instead of one append (and one integer's text) per part.
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
    mutating func put(_ byte: UInt8) {
        precondition(self.count < self.room.count, "more bytes than counted")
        self.room[self.count] = byte
        self.count += 1
    }

    /// Writes a static text's bytes.
    mutating func put(_ text: StaticString) {
        self.copy(UnsafeRawPointer(text.utf8Start), text.utf8CodeUnitCount)
    }

    /// Writes a text's UTF-8 bytes.
    mutating func put(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            if let base = bytes.baseAddress { self.copy(UnsafeRawPointer(base), bytes.count) }
        }
    }

    /// Writes an integer in decimal, with a `-` when negative.
    mutating func put(decimal value: Int) {
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                scratch[start] = UInt8(ascii: "-")
            }
            self.copy(UnsafeRawPointer(scratch.baseAddress! + start), scratch.count - start)
        }
    }

    private mutating func copy(_ source: UnsafeRawPointer, _ count: Int) {
        precondition(count <= self.room.count - self.count, "more bytes than counted")
        (self.room.baseAddress! + self.count).copyMemory(from: source, byteCount: count)
        self.count += count
    }
}
