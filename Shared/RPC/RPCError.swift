/// A failed RPC call: a code the caller can branch on and a message that says what went wrong.
///
/// Handlers throw it to send a typed error to the caller; clients receive it for answers that carry
/// a failure and for local failures (timeout, connection lost, peer unavailable).
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; stable across versions, carried on the wire.
    public var code: Code
    /// Human-readable detail naming the bad field, value or peer.
    public var message: String

    /// Creates an error with a code and a message.
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: What went wrong and, where possible, what to fix.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(self.code): \(self.message)" }

    /// The error codes of the protocol (docs/protocol.md, "Error codes").
    public enum Code: Int, Sendable, Hashable, CustomStringConvertible, CaseIterable {
        /// The request payload or a field in it is invalid.
        case invalidArgument = 1
        /// The addressed entity does not exist.
        case notFound = 2
        /// The request conflicts with the current state (for example a stale version).
        case conflict = 3
        /// The caller lacks the rights for this call.
        case permissionDenied = 4
        /// A quota or limit is exhausted.
        case resourceExhausted = 5
        /// The server cannot answer now; retry later or elsewhere.
        case unavailable = 6
        /// The deadline passed before the answer arrived.
        case deadlineExceeded = 7
        /// The server has no handler for the method.
        case unimplemented = 8
        /// The handshake failed because the secrets differ.
        case unauthenticated = 9
        /// The handshake failed because the protocol versions differ.
        case versionMismatch = 10
        /// A frame broke the protocol.
        case protocolError = 11
        /// An unexpected failure in the server; details are in its log.
        case `internal` = 12
        /// The request or its answer is larger than the side that would receive it accepts; only that call failed.
        case frameTooLarge = 13

        /// The snake-case name used in logs and docs, e.g. `deadline_exceeded`.
        public var description: String {
            switch self {
            case .invalidArgument: "invalid_argument"
            case .notFound: "not_found"
            case .conflict: "conflict"
            case .permissionDenied: "permission_denied"
            case .resourceExhausted: "resource_exhausted"
            case .unavailable: "unavailable"
            case .deadlineExceeded: "deadline_exceeded"
            case .unimplemented: "unimplemented"
            case .unauthenticated: "unauthenticated"
            case .versionMismatch: "version_mismatch"
            case .protocolError: "protocol_error"
            case .internal: "internal"
            case .frameTooLarge: "frame_too_large"
            }
        }
    }
}

extension RPCError {
    init(_ failure: Gatehouse_Rpc_Failure) {
        let code = Code(rawValue: failure.code.rawValue) ?? .internal
        self.init(code, failure.message)
    }

    var failure: Gatehouse_Rpc_Failure {
        var failure = Gatehouse_Rpc_Failure()
        failure.code = Gatehouse_Rpc_ErrorCode(rawValue: self.code.rawValue) ?? .internal
        failure.message = self.message
        return failure
    }
}
