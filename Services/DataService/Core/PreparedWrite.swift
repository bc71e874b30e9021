import Foundation

/// A ``DocumentWrite`` whose names and body passed validation and whose id is decided.
///
/// Validation runs in the caller's task, so the writer thread only does database work.
enum PreparedWrite: Sendable {
    case put(collection: String, id: String, body: String, ifVersion: Int64?, owner: String?)
    case delete(collection: String, id: String, ifVersion: Int64?)

    /// Validates a write; a create becomes a put of a new random id that must not exist yet.
    /// - Parameters:
    ///   - write: The requested write.
    ///   - maxBodyBytes: The largest allowed body.
    /// - Throws: ``DocumentError`` naming the invalid field.
    init(_ write: DocumentWrite, maxBodyBytes: Int) throws(DocumentError) {
        switch write {
        case .put(let collection, let id, let body, let ifVersion, let owner):
            try DocumentName.validate(collection, field: "collection")
            try DocumentName.validate(id, field: "id")
            try Self.validate(ifVersion)
            try DocumentBody.validate(body, limit: maxBodyBytes)
            try Self.validate(owner: owner)
            self = .put(collection: collection, id: id, body: body, ifVersion: ifVersion, owner: owner)
        case .create(let collection, let body, let owner):
            try DocumentName.validate(collection, field: "collection")
            try DocumentBody.validate(body, limit: maxBodyBytes)
            try Self.validate(owner: owner)
            let id = UUID().uuidString.lowercased()
            self = .put(collection: collection, id: id, body: body, ifVersion: 0, owner: owner)
        case .delete(let collection, let id, let ifVersion):
            try DocumentName.validate(collection, field: "collection")
            try DocumentName.validate(id, field: "id")
            try Self.validate(ifVersion)
            self = .delete(collection: collection, id: id, ifVersion: ifVersion)
        }
    }

    /// An owner is a subject name: at most ``DocumentWireSize/maximumOwnerBytes``, so a document's size in
    /// an answer is bounded by its body's.
    private static func validate(owner: String?) throws(DocumentError) {
        guard let owner, owner.utf8.count > DocumentWireSize.maximumOwnerBytes else { return }
        throw .invalidArgument(
            field: "owner", value: String(owner.prefix(32)) + "…",
            reason: "is \(owner.utf8.count) bytes long; the maximum is \(DocumentWireSize.maximumOwnerBytes)"
        )
    }

    private static func validate(_ ifVersion: Int64?) throws(DocumentError) {
        if let ifVersion, ifVersion < 0 {
            throw .invalidArgument(
                field: "ifVersion", value: String(ifVersion),
                reason: "must be 0 (must not exist) or a positive version"
            )
        }
    }
}
