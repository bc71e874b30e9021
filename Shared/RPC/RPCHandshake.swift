import Crypto
import Foundation
import NIOCore

/// The pure logic of the RPC handshake (docs/protocol.md, "Handshake"), without I/O.
///
/// 1. server → client: `ServerHello` (version, 32-byte server nonce, the server's frame maximum)
/// 2. client → server: `ClientHello` (version, client nonce, HMAC proof over both nonces, the client's frame maximum)
/// 3. server → client: `HelloResult` (the server's own proof, or a failure and a close)
///
/// Both sides prove knowledge of the shared secret without sending it; proofs are compared in
/// constant time. No method runs before step 3 succeeded.
enum RPCHandshake {
    /// The only protocol version this build speaks.
    static let protocolVersion: UInt32 = 1
    static let nonceBytes = 32
    static let clientLabel = Array("gatehouse-rpc client proof".utf8)
    static let serverLabel = Array("gatehouse-rpc server proof".utf8)

    static func makeNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<nonceBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func proof(secret: RPCSecret, label: [UInt8], first: [UInt8], second: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        hmac.update(data: label)
        hmac.update(data: first)
        hmac.update(data: second)
        return Array(hmac.finalize())
    }

    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    /// The server's side: issues the challenge, then checks the answer.
    struct Server {
        /// A client's hello that passed every check.
        struct Accepted {
            /// The frame to send back: the server's proof.
            let result: Gatehouse_Rpc_HelloResult
            /// The largest frame payload the client accepts (what it announced, or the default).
            let clientMaximumFrameBytes: Int
        }

        let secret: RPCSecret
        let serverNonce: [UInt8]
        /// The largest frame payload this server accepts, announced in its hello.
        let maximumFrameBytes: Int

        init(secret: RPCSecret, maximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes, serverNonce: [UInt8] = RPCHandshake.makeNonce()) {
            self.secret = secret
            self.maximumFrameBytes = maximumFrameBytes
            self.serverNonce = serverNonce
        }

        var hello: Gatehouse_Rpc_ServerHello {
            var hello = Gatehouse_Rpc_ServerHello()
            hello.protocolVersion = RPCHandshake.protocolVersion
            hello.serverNonce = Data(self.serverNonce)
            hello.maxFrameBytes = UInt32(clamping: self.maximumFrameBytes)
            return hello
        }

        /// Checks a client's hello.
        /// - Returns: The proof to send back and the client's frame maximum, or the failure to send back.
        func answer(_ clientHello: Gatehouse_Rpc_ClientHello) -> Result<Accepted, RPCError> {
            guard clientHello.protocolVersion == RPCHandshake.protocolVersion else {
                return .failure(
                    RPCError(
                        .versionMismatch,
                        "client speaks protocol version \(clientHello.protocolVersion), server speaks \(RPCHandshake.protocolVersion)"
                    )
                )
            }
            let clientNonce = Array(clientHello.clientNonce)
            guard clientNonce.count == RPCHandshake.nonceBytes else {
                return .failure(RPCError(.protocolError, "client nonce must have \(RPCHandshake.nonceBytes) bytes, got \(clientNonce.count)"))
            }
            let expected = RPCHandshake.proof(
                secret: self.secret,
                label: RPCHandshake.clientLabel,
                first: self.serverNonce,
                second: clientNonce
            )
            guard RPCHandshake.constantTimeEquals(expected, Array(clientHello.clientProof)) else {
                return .failure(RPCError(.unauthenticated, "client proof does not match: the service secrets differ"))
            }
            var result = Gatehouse_Rpc_HelloResult()
            result.serverProof = Data(
                RPCHandshake.proof(secret: self.secret, label: RPCHandshake.serverLabel, first: clientNonce, second: self.serverNonce)
            )
            return .success(Accepted(result: result, clientMaximumFrameBytes: RPCFrameLimit.peerMaximum(announced: clientHello.maxFrameBytes)))
        }
    }

    /// The client's side: answers the challenge, then checks the server's proof.
    struct Client {
        let secret: RPCSecret
        let clientNonce: [UInt8]
        /// The largest frame payload this client accepts, announced in its hello.
        let maximumFrameBytes: Int
        private(set) var serverNonce: [UInt8] = []
        /// The largest frame payload the server accepts, once its hello arrived (what it announced, or the default).
        private(set) var serverMaximumFrameBytes = RPCFrameLimit.defaultMaximumBytes

        init(secret: RPCSecret, maximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes, clientNonce: [UInt8] = RPCHandshake.makeNonce()) {
            self.secret = secret
            self.maximumFrameBytes = maximumFrameBytes
            self.clientNonce = clientNonce
        }

        mutating func answer(_ serverHello: Gatehouse_Rpc_ServerHello, clientName: String) throws(RPCError) -> Gatehouse_Rpc_ClientHello {
            guard serverHello.protocolVersion == RPCHandshake.protocolVersion else {
                throw RPCError(
                    .versionMismatch,
                    "server speaks protocol version \(serverHello.protocolVersion), client speaks \(RPCHandshake.protocolVersion)"
                )
            }
            self.serverNonce = Array(serverHello.serverNonce)
            guard self.serverNonce.count == RPCHandshake.nonceBytes else {
                throw RPCError(.protocolError, "server nonce must have \(RPCHandshake.nonceBytes) bytes, got \(self.serverNonce.count)")
            }
            self.serverMaximumFrameBytes = RPCFrameLimit.peerMaximum(announced: serverHello.maxFrameBytes)
            var hello = Gatehouse_Rpc_ClientHello()
            hello.protocolVersion = RPCHandshake.protocolVersion
            hello.maxFrameBytes = UInt32(clamping: self.maximumFrameBytes)
            hello.clientNonce = Data(self.clientNonce)
            hello.clientProof = Data(
                RPCHandshake.proof(secret: self.secret, label: RPCHandshake.clientLabel, first: self.serverNonce, second: self.clientNonce)
            )
            hello.clientName = clientName
            return hello
        }

        func verify(_ result: Gatehouse_Rpc_HelloResult) throws(RPCError) {
            switch result.result {
            case .failure(let failure):
                throw RPCError(failure)
            case .serverProof(let proof):
                let expected = RPCHandshake.proof(
                    secret: self.secret,
                    label: RPCHandshake.serverLabel,
                    first: self.clientNonce,
                    second: self.serverNonce
                )
                guard RPCHandshake.constantTimeEquals(expected, Array(proof)) else {
                    throw RPCError(.unauthenticated, "server proof does not match: the service secrets differ")
                }
            case nil:
                throw RPCError(.protocolError, "handshake result carries neither a proof nor a failure")
            }
        }
    }
}
