@testable import EdgeRouterCore
import Testing

/// `If-Match` and `If-None-Match` as RFC 9110 §8.8.3 and §13.1–13.2 define them, with the RFC's own examples.
struct RequestPreconditionsTests {
    static func tag(_ opaque: String, weak: Bool = false) -> EntityTag {
        EntityTag(opaque: Substring(opaque), isWeak: weak)
    }

    static func preconditions(ifMatch: String? = nil, ifNoneMatch: String? = nil) throws -> RequestPreconditions {
        try RequestPreconditions(ifMatch: ifMatch, ifNoneMatch: ifNoneMatch)
    }

    /// RFC 9110 §8.8.3.2, the table of strong and weak comparisons.
    @Test func comparisonsFollowTheRFCsTable() {
        let cases: [(EntityTag, EntityTag, strong: Bool, weak: Bool)] = [
            (Self.tag("1", weak: true), Self.tag("1", weak: true), false, true),
            (Self.tag("1", weak: true), Self.tag("2", weak: true), false, false),
            (Self.tag("1", weak: true), Self.tag("1"), false, true),
            (Self.tag("1"), Self.tag("1"), true, true),
        ]
        for (first, second, strong, weak) in cases {
            #expect(first.strongMatches(second) == strong, "\(first) vs \(second), strong")
            #expect(first.weakMatches(second) == weak, "\(first) vs \(second), weak")
        }
        #expect(EntityTag(version: 7) == Self.tag("7"), "Gatehouse's tags are strong versions")
    }

    /// The field values of RFC 9110 §8.8.3, §13.1.1 and §13.1.2, and what the list rule allows (§5.6.1).
    @Test func theRFCsFieldValuesParse() throws {
        #expect(try EntityTagCondition(parsing: "*") == .any)
        #expect(try EntityTagCondition(parsing: " * ") == .any)
        #expect(try EntityTagCondition(parsing: #""xyzzy""#) == .tags([Self.tag("xyzzy")]))
        #expect(try EntityTagCondition(parsing: #"W/"xyzzy""#) == .tags([Self.tag("xyzzy", weak: true)]))
        #expect(try EntityTagCondition(parsing: #""""#) == .tags([Self.tag("")]), "an empty opaque tag is a tag")
        #expect(
            try EntityTagCondition(parsing: #""xyzzy", "r2d2xxxx", "c3piozzzz""#)
                == .tags([Self.tag("xyzzy"), Self.tag("r2d2xxxx"), Self.tag("c3piozzzz")])
        )
        #expect(
            try EntityTagCondition(parsing: #"W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz""#)
                == .tags([Self.tag("xyzzy", weak: true), Self.tag("r2d2xxxx", weak: true), Self.tag("c3piozzzz", weak: true)])
        )
        #expect(try EntityTagCondition(parsing: " , \"a\" ,,\t\"b\",") == .tags([Self.tag("a"), Self.tag("b")]), "empty elements and whitespace")
        #expect(try EntityTagCondition(parsing: "") == .tags([]), "a list of no tags")
        #expect(try EntityTagCondition(parsing: "\"caf\u{e9}\"") == .tags([Self.tag("caf\u{e9}")]), "obs-text is allowed")
        #expect(EntityTag(field: "\"7\"") == Self.tag("7"))
        #expect(EntityTag(field: "\"7\", \"8\"") == nil)
    }

    @Test(arguments: [
        "xyzzy", "\"xyzzy", "w/\"xyzzy\"", "W\"xyzzy\"", "\"a\" \"b\"", "\"a\";\"b\"", "*, \"a\"", "\"a\", *", "**",
        "\"a b\"", "\"a\u{7f}\"", "\"a\tb\"",
    ])
    func aValueThatBreaksTheGrammarIsMalformed(value: String) {
        #expect(throws: EntityTagCondition.MalformedValue.self, "\(value)") { try EntityTagCondition(parsing: value) }
    }

    @Test func theMalformedFieldIsNamed() {
        #expect(throws: RequestPreconditions.Malformed.self) { try Self.preconditions(ifMatch: "7") }
        do throws(RequestPreconditions.Malformed) {
            _ = try RequestPreconditions(ifMatch: "\"7\"", ifNoneMatch: "W/7")
            Issue.record("If-None-Match W/7 is malformed")
        } catch {
            #expect(error.field == "If-None-Match")
            #expect(error.detail.hasPrefix("If-None-Match must be '*' or a comma-separated list of entity tags"))
        }
    }

    /// §13.1.1: strong comparison, `*` for any current representation, and a tag that is not a version just
    /// does not match.
    @Test func ifMatchHoldsOnlyForACurrentStrongTagItLists() throws {
        let current = RequestPreconditions.Representation.current(EntityTag(version: 7))
        let outcomes: [(String, RequestPreconditions.Outcome)] = [
            ("\"7\"", .proceed), ("\"3\", \"7\"", .proceed), ("*", .proceed),
            ("\"8\"", .preconditionFailed(field: "If-Match")), ("W/\"7\"", .preconditionFailed(field: "If-Match")),
            ("\"abc\"", .preconditionFailed(field: "If-Match")), ("\"07\"", .preconditionFailed(field: "If-Match")),
            ("", .preconditionFailed(field: "If-Match")),
        ]
        for (field, outcome) in outcomes {
            #expect(try Self.preconditions(ifMatch: field).evaluate(current, safe: false) == outcome, "If-Match: \(field)")
            #expect(try Self.preconditions(ifMatch: field).evaluate(current, safe: true) == outcome, "If-Match: \(field) on GET")
        }
        #expect(try Self.preconditions(ifMatch: "*").evaluate(.none, safe: false) == .preconditionFailed(field: "If-Match"), "no document: * is false")
        #expect(try Self.preconditions(ifMatch: "\"0\"").evaluate(.none, safe: false) == .preconditionFailed(field: "If-Match"))
        #expect(try Self.preconditions(ifMatch: "*").evaluate(.current(nil), safe: true) == .proceed, "a listing exists")
        #expect(try Self.preconditions(ifMatch: "\"7\"").evaluate(.current(nil), safe: true) == .preconditionFailed(field: "If-Match"), "and has no tag")
    }

    /// §13.1.2: weak comparison; `304` on `GET`/`HEAD` only, `412` for other methods.
    @Test func ifNoneMatchFailsForACurrentTagItListsEvenWeakly() throws {
        let current = RequestPreconditions.Representation.current(EntityTag(version: 7))
        for field in ["\"7\"", "W/\"7\"", "\"1\", W/\"7\"", "*"] {
            #expect(try Self.preconditions(ifNoneMatch: field).evaluate(current, safe: true) == .notModified, "If-None-Match: \(field)")
            #expect(try Self.preconditions(ifNoneMatch: field).evaluate(current, safe: false) == .preconditionFailed(field: "If-None-Match"))
        }
        for field in ["\"8\"", "\"abc\"", "W/\"abc\"", ""] {
            #expect(try Self.preconditions(ifNoneMatch: field).evaluate(current, safe: true) == .proceed, "If-None-Match: \(field)")
            #expect(try Self.preconditions(ifNoneMatch: field).evaluate(current, safe: false) == .proceed)
        }
        #expect(try Self.preconditions(ifNoneMatch: "*").evaluate(.none, safe: false) == .proceed, "create only if absent")
        #expect(try Self.preconditions(ifNoneMatch: "*").evaluate(.current(nil), safe: true) == .notModified, "a listing exists")
        #expect(try Self.preconditions(ifNoneMatch: "\"7\"").evaluate(.current(nil), safe: true) == .proceed)
    }

    /// §13.2.2: `If-Match` is evaluated first; `If-None-Match` only when it holds.
    @Test func ifMatchIsEvaluatedBeforeIfNoneMatch() throws {
        let current = RequestPreconditions.Representation.current(EntityTag(version: 7))
        #expect(try Self.preconditions(ifMatch: "\"8\"", ifNoneMatch: "\"7\"").evaluate(current, safe: true) == .preconditionFailed(field: "If-Match"))
        #expect(try Self.preconditions(ifMatch: "\"7\"", ifNoneMatch: "\"7\"").evaluate(current, safe: true) == .notModified)
        #expect(try Self.preconditions(ifMatch: "\"7\"", ifNoneMatch: "\"7\"").evaluate(current, safe: false) == .preconditionFailed(field: "If-None-Match"))
        #expect(try Self.preconditions(ifMatch: "*", ifNoneMatch: "\"8\"").evaluate(current, safe: false) == .proceed)
        #expect(try Self.preconditions().isEmpty)
        #expect(try Self.preconditions().evaluate(.none, safe: false) == .proceed)
    }
}
