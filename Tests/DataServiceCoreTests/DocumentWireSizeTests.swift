@testable import DataServiceCore
import Foundation
import SwiftProtobuf
import GatehouseDataAPI
@testable import GatehouseRPC
import Testing

/// The byte counts the data service pages and checks its configuration with are upper bounds of what
/// protobuf really writes, checked against real serializations of the largest messages.
@Suite struct DocumentWireSizeTests {
    private static let longestName = String(repeating: "n", count: DocumentName.maximumLength)
    private static let longestOwner = String(repeating: "o", count: DocumentWireSize.maximumOwnerBytes)
    private static let body = #"{"blob":""# + String(repeating: "x", count: 1_048_565) + #""}"#  // 1 MiB

    private static var largestDocument: Gatehouse_Data_Document {
        var document = Gatehouse_Data_Document()
        document.collection = Self.longestName
        document.id = Self.longestName
        document.body = Self.body
        // Negative integers take the longest varints (10 bytes).
        document.version = -1
        document.createdAtMs = -1
        document.updatedAtMs = -1
        document.owner = Self.longestOwner
        return document
    }

    private static func answerFrame(_ response: some SwiftProtobuf.Message) throws -> Int {
        var envelope = Gatehouse_Rpc_Envelope()
        envelope.id = .max
        envelope.payload = try response.serializedBytes()
        return try Self.size(envelope)
    }

    private static func size(_ message: some SwiftProtobuf.Message) throws -> Int {
        let bytes: [UInt8] = try message.serializedBytes()
        return bytes.count
    }

    @Test func aFrameHoldingOneDocumentTakesAtMostItsBodyAndTheAllowance() throws {
        var page = Gatehouse_Data_ListResponse()
        page.documents = [Self.largestDocument]
        page.nextCursor = Self.longestName
        var get = Gatehouse_Data_GetResponse()
        get.document = Self.largestDocument
        var write = Gatehouse_Data_WriteResponse()
        write.version = -1
        write.created = true
        write.document = Self.largestDocument
        var put = Gatehouse_Data_PutRequest()
        put.collection = Self.longestName
        put.id = Self.longestName
        put.body = Self.body
        put.ifVersion = -1
        put.owner = Self.longestOwner
        var request = Gatehouse_Rpc_Envelope()
        request.id = .max
        request.method = "data.Create"
        request.timeoutMs = .max
        request.traceID = String(repeating: "t", count: 128)
        request.payload = try put.serializedBytes()

        let frames = [
            "list": try Self.answerFrame(page), "get": try Self.answerFrame(get), "write": try Self.answerFrame(write),
            "put": try Self.size(request),
        ]
        for (name, bytes) in frames {
            #expect(bytes - Self.body.utf8.count <= DocumentWireSize.frameAllowance, "\(name): \(bytes) bytes")
        }
        #expect(frames.values.max() == frames["list"], "a one-document page is the largest, as DocumentWireSize's documentation says")
    }

    @Test func aPageIsCountedAtLeastAsLargeAsItIsWritten() throws {
        let stored = Document(
            collection: Self.longestName, id: Self.longestName, body: Self.body, version: .max, createdAt: .max, updatedAt: .max,
            owner: Self.longestOwner
        )
        var page = Gatehouse_Data_ListResponse()
        page.documents = [Self.largestDocument, Self.largestDocument]
        page.nextCursor = Self.longestName
        let counted = 2 * DocumentWireSize.listEntry(stored) + DocumentWireSize.listResponseOverhead
        #expect(try Self.size(page) <= counted)
        #expect(try Self.answerFrame(page) <= counted + RPCFrameLimit.answerEnvelopeBytes)

        var write = Gatehouse_Data_WriteResponse()
        write.version = -1
        write.created = true
        write.document = Self.largestDocument
        let bound = DocumentWireSize.writeResponse(
            collectionBytes: DocumentName.maximumLength, idBytes: DocumentName.maximumLength, bodyBytes: Self.body.utf8.count
        )
        #expect(try Self.size(write) <= bound)
    }
}
