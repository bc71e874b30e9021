import Foundation
import Testing

@testable import AuthIssuerCore

/// The hand-written encoders on the token path give exactly what Foundation and JSONSerialization give.
struct EncodingTests {
    @Test func base64URLMatchesFoundationWithoutPadding() {
        for count in 0...40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(SigningKeyMaterial.base64URL(bytes) == expected, "\(count) bytes")
        }
    }

    @Test func hexAndSHA256() {
        #expect(SigningKeyMaterial.hex([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
        #expect(TokenService.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func theTokenResponseIsValidJSON() throws {
        for refresh in [nil, "r3fr-esh_"] {
            let response = TokenResponse(accessToken: "a.b.c", tokenType: "Bearer", expiresIn: 600, refreshToken: refresh, scope: "read write")
            let decoded = try JSONDecoder().decode(TokenResponse.self, from: Data(response.jsonText.utf8))
            #expect(decoded == response)
        }
    }
}
