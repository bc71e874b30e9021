import AuthIssuerCore
import Foundation
import Testing

/// RFC 6749 request parsing: form bodies decoded exactly, anything ambiguous refused with invalid_request.
struct OAuthParametersTests {
    @Test func decodesPlusAndPercentEscapes() throws {
        let parameters = try OAuthParameters(body: Array("grant_type=password&username=al%C3%AFce&password=a+b%26c%3D".utf8), contentType: "application/x-www-form-urlencoded; charset=UTF-8")
        #expect(parameters["grant_type"] == "password")
        #expect(parameters["username"] == "alïce")
        #expect(parameters["password"] == "a b&c=")
    }

    @Test func anEmptyValueCountsAsAbsent() throws {
        let parameters = try OAuthParameters(formBody: Array("scope=&grant_type=client_credentials".utf8))
        #expect(parameters["scope"] == nil)
        #expect(throws: OAuthError(.invalidRequest, "the 'scope' parameter is missing")) { try parameters.required("scope") }
    }

    @Test(arguments: [
        ("grant_type=password&grant_type=client_credentials", "the 'grant_type' parameter is given more than once"),
        ("username=%zz", "the body has a malformed percent escape"),
        ("username=%4", "the body has a malformed percent escape"),
        ("username=%FF%FE", "the body is not valid UTF-8"),
    ])
    func refusesAmbiguousOrBrokenForms(body: String, message: String) {
        #expect(throws: OAuthError(.invalidRequest, message)) { try OAuthParameters(formBody: Array(body.utf8)) }
    }

    @Test func rejectsBytesThatAreNotUTF8() {
        #expect(throws: OAuthError(.invalidRequest, "the body is not valid UTF-8")) {
            try OAuthParameters(formBody: [UInt8]("username=".utf8) + [0xC3, 0x28])
        }
    }

    @Test func acceptsAFlatJSONObjectOfStrings() throws {
        let parameters = try OAuthParameters(body: Array(#"{"grant_type":"refresh_token","refresh_token":"abc"}"#.utf8), contentType: "application/json")
        #expect(parameters["refresh_token"] == "abc")
        #expect(throws: OAuthError(.invalidRequest, "the 'n' parameter must be a string")) {
            try OAuthParameters(body: Array(#"{"n":1}"#.utf8), contentType: "application/json")
        }
        #expect(throws: OAuthError(.invalidRequest, "the body is not a JSON object")) {
            try OAuthParameters(body: Array("[1]".utf8), contentType: "application/json")
        }
    }

    @Test func namesTheMediaTypeItRefuses() {
        #expect(throws: OAuthError(.invalidRequest, "the body must be application/x-www-form-urlencoded (or application/json), not 'text/plain'")) {
            try OAuthParameters(body: [], contentType: "text/plain")
        }
        #expect(throws: OAuthError(.invalidRequest, "the body must be application/x-www-form-urlencoded (or application/json), not missing")) {
            try OAuthParameters(body: [], contentType: nil)
        }
    }
}

/// RFC 6749 §2.3.1 client authentication: Basic or body, never both.
struct ClientCredentialsTests {
    private func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
    }

    @Test func readsHTTPBasicWithFormEncodedParts() throws {
        let credentials = try ClientCredentials.from(authorization: self.basic("svc%3Aone", "s+3cr%25t"), parameters: OAuthParameters([:]))
        #expect(credentials == ClientCredentials(id: "svc:one", secret: "s 3cr%t"))
    }

    @Test func readsTheBody() throws {
        let credentials = try ClientCredentials.from(authorization: nil, parameters: OAuthParameters(["client_id": "svc", "client_secret": "x"]))
        #expect(credentials == ClientCredentials(id: "svc", secret: "x"))
        #expect(try ClientCredentials.from(authorization: nil, parameters: OAuthParameters([:])) == nil)
    }

    @Test func refusesTwoMethodsAtOnce() {
        #expect(throws: OAuthError(.invalidRequest, "use either HTTP Basic authentication or 'client_secret' in the body, not both")) {
            try ClientCredentials.from(authorization: self.basic("svc", "x"), parameters: OAuthParameters(["client_secret": "x"]))
        }
    }

    @Test(arguments: ["Basic !!!", "Bearer abc", "Basic " + Data("no-colon".utf8).base64EncodedString()])
    func refusesMalformedBasicAsInvalidClient(header: String) {
        #expect(throws: OAuthError(.invalidClient, "the Authorization header is not valid HTTP Basic client credentials")) {
            try ClientCredentials.from(authorization: header, parameters: OAuthParameters([:]))
        }
    }
}

/// Scope rules (RFC 6749 §3.3).
struct ScopeSetTests {
    @Test func grantsWhatIsAskedWithinWhatIsAllowed() {
        let allowed = ScopeSet(["read", "write"])
        #expect(ScopeSet.granted(parameter: nil, allowed: allowed) == allowed)
        #expect(ScopeSet.granted(parameter: "write", allowed: allowed)?.parameter == "write")
        #expect(ScopeSet.granted(parameter: "write read read", allowed: allowed)?.parameter == "read write")
        #expect(ScopeSet.granted(parameter: "admin", allowed: allowed) == nil)
        #expect(ScopeSet.granted(parameter: "re\"ad", allowed: allowed) == nil)
    }
}
