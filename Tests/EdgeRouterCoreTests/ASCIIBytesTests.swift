@testable import EdgeRouterCore
import Testing

/// The byte writer behind the edge's message heads and `RateLimit` values.
struct ASCIIBytesTests {
    static func written(_ write: (inout ASCIIBytes) -> Void) -> String {
        String(unsafeUninitializedCapacity: 256) { buffer in
            var bytes = ASCIIBytes(room: UnsafeMutableRawBufferPointer(buffer))
            write(&bytes)
            return bytes.count
        }
    }

    @Test(arguments: [0, 7, 10, 99, 100, 65_535, 1_000_000_007, -1, -42, Int.max, Int.min])
    func decimalsAreWrittenAsSwiftPrintsThem(_ value: Int) {
        #expect(Self.written { $0.put(decimal: value) } == String(value))
    }

    @Test func textsBytesAndDecimalsFollowEachOtherInOrder() {
        let policy = "per_route"
        let text = Self.written { bytes in
            bytes.put(UInt8(ascii: "\""))
            bytes.put(policy)
            bytes.put("\";q=")
            bytes.put(decimal: 1000)
            bytes.put(";w=")
            bytes.put(decimal: 60)
        }
        #expect(text == #""per_route";q=1000;w=60"#)
    }

    @Test func theLongestDecimalFitsTheRoomItsBoundReserves() {
        #expect(String(Int.min).utf8.count <= ASCIIBytes.maximumDecimalLength)
        let text = String(unsafeUninitializedCapacity: ASCIIBytes.maximumDecimalLength) { buffer in
            var bytes = ASCIIBytes(room: UnsafeMutableRawBufferPointer(buffer))
            bytes.put(decimal: Int.min)
            return bytes.count
        }
        #expect(text == String(Int.min))
    }
}
