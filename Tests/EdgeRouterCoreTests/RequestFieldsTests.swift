@testable import EdgeRouterCore
import Testing

/// A request's fields as the gateway reads them.
struct RequestFieldsTests {
    @Test func repeatedFieldsAreJoinedInArrivalOrderAndFoundByLowerCaseName() {
        var fields = RequestFields()
        fields.add("accept", "text/html")
        fields.add("host", "edge")
        fields.add("accept", "application/json")
        #expect(fields["accept"] == "text/html, application/json", "RFC 9110 §5.3")
        #expect(fields["host"] == "edge")
        #expect(fields["cookie"] == nil)
        #expect(fields.count == 2)
        #expect(fields.map(\.name) == ["accept", "host"])
    }

    @Test func settingReplacesAddsOrRemoves() {
        var fields: RequestFields = ["host": "edge", "accept": "*/*"]
        fields["host"] = "api"
        fields["authorization"] = "Bearer t"
        fields["accept"] = nil
        #expect(fields.map(\.name) == ["host", "authorization"])
        #expect(fields["host"] == "api")
        #expect(RequestFields(["a": "1"])["a"] == "1")
    }
}
