/// What a successful ``DocumentWrite`` did.
package enum WriteOutcome: Sendable, Equatable {
    /// A new document was stored.
    case created(Document)
    /// An existing document was replaced; its creation time and owner were kept.
    case replaced(Document)
    /// The document was deleted by the change with data version `version`.
    case deleted(collection: String, id: String, version: Int64)

    /// The global data version of the change.
    package var version: Int64 {
        switch self {
        case .created(let document), .replaced(let document): document.version
        case .deleted(_, _, let version): version
        }
    }
}
