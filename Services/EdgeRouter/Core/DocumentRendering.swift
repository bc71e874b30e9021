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
    static func document(_ document: Gatehouse_Data_Document) -> [UInt8] {
        var text = #"{"id":"# + JSONString.quoted(document.id) + #","collection":"# + JSONString.quoted(document.collection)
        text += #","version":"# + String(document.version) + #","owner":"# + (document.owner.isEmpty ? "null" : JSONString.quoted(document.owner))
        text += #","created_at_ms":"# + String(document.createdAtMs) + #","updated_at_ms":"# + String(document.updatedAtMs)
        text += #","data":"# + document.body + "}"
        return Array(text.utf8)
    }

    static func page(_ page: Gatehouse_Data_ListResponse) -> [UInt8] {
        var bytes = Array(#"{"items":["#.utf8)
        for (index, document) in page.documents.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += Self.document(document)
        }
        bytes += Array(#"],"next_cursor":"#.utf8) + Array((page.nextCursor.isEmpty ? "null" : JSONString.quoted(page.nextCursor)).utf8) + [UInt8(ascii: "}")]
        return bytes
    }


    /// The strong ETag of a document version.
    static func etag(version: Int64) -> String {
        "\"\(version)\""
    }
}
