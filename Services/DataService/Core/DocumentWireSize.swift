/// How many bytes documents take, at most, in the data service's RPC frames (`Shared/DataAPI/Protos/data.proto`
/// inside `Shared/RPC/Protos/rpc.proto`'s `Envelope`), counted from their lengths without serializing them.
///
/// `data.List` cuts its pages with ``listEntry(_:)`` so that a page fits the caller's frame maximum, and the
/// configuration is refused when one document of `storage.max_body_bytes` and ``frameAllowance`` do not fit in
/// `rpc.max_frame_bytes`. Counts are upper bounds: every field is counted as present and every integer at
/// its widest.
package enum DocumentWireSize {
    /// The longest owner a write may record, in UTF-8 bytes: 128.
    package static let maximumOwnerBytes = 128

    /// The bytes a frame carrying one document holds besides the document's body, at most: 1024.
    ///
    /// The largest such frame is a one-document `data.List` answer: the answer envelope (17 bytes), the
    /// page's `next_cursor` (131), the entry's tag and length (6), and the document's collection, id and owner
    /// (131 each), version and times (33) and the body's tag and length (6): 586 bytes. A `data.Put` request
    /// with a 128-byte trace id (577) and a `data.Get` or write answer take less. 1024 leaves room.
    package static let frameAllowance = 1024

    /// What a `ListResponse` holds besides its documents: `next_cursor`, a document id.
    static let listResponseOverhead = Self.lengthDelimited(DocumentName.maximumLength)

    /// One entry of `ListResponse.documents`: its tag, its length, and the `Document` message.
    static func listEntry(_ document: Document) -> Int {
        Self.lengthDelimited(
            Self.document(
                collectionBytes: document.collection.utf8.count, idBytes: document.id.utf8.count,
                bodyBytes: document.body.utf8.count, ownerBytes: document.owner?.utf8.count ?? 0
            )
        )
    }

    /// A `WriteResponse` holding the document a write of this body stores, whatever owner it keeps.
    static func writeResponse(collectionBytes: Int, idBytes: Int, bodyBytes: Int) -> Int {
        Self.int64Field + 2 + Self.lengthDelimited(
            Self.document(collectionBytes: collectionBytes, idBytes: idBytes, bodyBytes: bodyBytes, ownerBytes: Self.maximumOwnerBytes)
        )
    }

    /// A `Document` message: three strings, three 64-bit integers, the owner.
    private static func document(collectionBytes: Int, idBytes: Int, bodyBytes: Int, ownerBytes: Int) -> Int {
        Self.lengthDelimited(collectionBytes) + Self.lengthDelimited(idBytes) + Self.lengthDelimited(bodyBytes) + 3 * Self.int64Field
            + Self.lengthDelimited(ownerBytes)
    }

    /// A length-delimited field of `bytes` (a string's UTF-8 bytes, an embedded message): tag, length, the bytes.
    private static func lengthDelimited(_ bytes: Int) -> Int {
        1 + Self.varintBytes(bytes) + bytes
    }

    /// A 64-bit integer field at its widest: tag and a 10-byte varint.
    private static let int64Field = 11

    private static func varintBytes(_ value: Int) -> Int {
        var rest = UInt(value) >> 7
        var bytes = 1
        while rest > 0 {
            rest >>= 7
            bytes += 1
        }
        return bytes
    }
}
