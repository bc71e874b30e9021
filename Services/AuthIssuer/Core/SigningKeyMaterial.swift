import Crypto
import Foundation
import JWTKit

/// Generates signing keys and turns stored ones back into jwt-kit keys.
///
/// A key's `kid` is its RFC 7638 JWK thumbprint, so the id is derived from the key and two issuers can
/// never publish different keys under one id.
enum SigningKeyMaterial {
    /// A fresh key of `algorithm`, ready to be stored.
    static func generate(_ algorithm: TokenPolicy.Algorithm, now: Date = Date()) throws -> SigningKeyRecord {
        switch algorithm {
        case .es256:
            let key = ES256PrivateKey()
            guard let (x, y) = key.publicKey.parameters else {
                throw AuthStoreError("cannot read the new ES256 key's public parameters")
            }
            let kid = thumbprint(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#)
            let jwk = #"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(y)","kid":"\#(kid)","alg":"ES256","use":"sig"}"#
            return SigningKeyRecord(kid: kid, algorithm: algorithm.rawValue, privateKey: key.pemRepresentation, publicJWK: jwk, createdAtMs: epochMilliseconds(now))
        case .eddsa:
            let key = try EdDSA.PrivateKey(curve: .ed25519)
            let x = base64URL(key.publicKey.rawRepresentation)
            let kid = thumbprint(#"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#)
            let jwk = #"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","kid":"\#(kid)","alg":"EdDSA","use":"sig"}"#
            return SigningKeyRecord(
                kid: kid, algorithm: algorithm.rawValue, privateKey: base64URL(key.rawRepresentation), publicJWK: jwk, createdAtMs: epochMilliseconds(now)
            )
        }
    }

    /// Adds a stored key's private half to `keys` under its `kid`, for signing.
    static func addPrivateKey(_ record: SigningKeyRecord, to keys: JWTKeyCollection) async throws {
        let kid = JWKIdentifier(string: record.kid)
        switch TokenPolicy.Algorithm(rawValue: record.algorithm) {
        case .es256:
            await keys.add(ecdsa: try ES256PrivateKey(pem: record.privateKey), kid: kid)
        case .eddsa:
            await keys.add(eddsa: try EdDSA.PrivateKey(d: record.privateKey, curve: .ed25519), kid: kid)
        case nil:
            throw AuthStoreError("signing key \(record.kid) has an unknown algorithm '\(record.algorithm)'")
        }
    }

    /// The RFC 7638 thumbprint of the canonical JWK members.
    static func thumbprint(_ canonicalJSON: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(canonicalJSON.utf8))))
    }

    /// Base64url without padding (RFC 7515 §2), in one pass (Foundation's string replacing was a tenth
    /// of a token request's CPU).
    static func base64URL(_ data: some Collection<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let bytes = Array(data)
        return String(unsafeUninitializedCapacity: (bytes.count * 4 + 2) / 3) { output in
            var written = 0
            var index = 0
            while index + 2 < bytes.count {
                let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                for shift in [18, 12, 6, 0] {
                    output[written] = alphabet[Int((chunk >> UInt32(shift)) & 63)]
                    written += 1
                }
                index += 3
            }
            let rest = bytes.count - index
            if rest > 0 {
                let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
                for shift in [18, 12, 6].prefix(rest + 1) {
                    output[written] = alphabet[Int((chunk >> UInt32(shift)) & 63)]
                    written += 1
                }
            }
            return written
        }
    }

    /// Lower-case hex.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(64)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 15)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
