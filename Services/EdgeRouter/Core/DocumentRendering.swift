import GatehouseDataAPI
import GatehouseObservability

/// The JSON the edge's data API answers with (docs/openapi/edge-router.yaml):
///
/// ```json
/// {"id":"p1","collection":"posts","version":7,"owner":"alice","created_at_ms":…,"updated_at_ms":…,"data":{…}}
/// {"items":[…],"next_cursor":"…"}
/// ```
/// `data` is the stored body as it was written (a JSON object the data service validated), embedded without
/// re-encoding.
enum DocumentRendering {
    static func document(_ document: DataDocument) -> [UInt8] {
        var text = #"{"id":"# + JSONString.quoted(document.id) + #","collection":"# + JSONString.quoted(document.collection)
        text += #","version":"# + String(document.version) + #","owner":"# + (document.owner.map(JSONString.quoted) ?? "null")
        text += #","created_at_ms":"# + String(document.createdAtMilliseconds) + #","updated_at_ms":"# + String(document.updatedAtMilliseconds)
        text += #","data":"# + document.body + "}"
        return Array(text.utf8)
    }

    static func page(_ page: DataPage) -> [UInt8] {
        var bytes = Array(#"{"items":["#.utf8)
        for (index, document) in page.documents.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += Self.document(document)
        }
        bytes += Array(#"],"next_cursor":"#.utf8) + Array((page.nextCursor.map(JSONString.quoted) ?? "null").utf8) + [UInt8(ascii: "}")]
        return bytes
    }


    /// The strong ETag of a document version.
    static func etag(version: Int64) -> String {
        "\"\(version)\""
    }
}
