/// A request's `If-Match` and `If-None-Match`, evaluated against the target's current representation in
/// the order of RFC 9110 §13.2.2: `If-Match` first (false: `412`), then `If-None-Match` (false: `304` for
/// `GET` and `HEAD`, `412` otherwise). `If-Unmodified-Since` and `If-Modified-Since` are not evaluated (the
/// edge sends no `Last-Modified`, so there is no date to compare), nor `If-Range` (it serves no ranges).
///
/// A well-formed tag that is not one of Gatehouse's versions (`"abc"`, `W/"7"` for `If-Match`) is simply a
/// tag that does not match; only a value that breaks the grammar is refused (``Malformed``).
struct RequestPreconditions {
    /// `If-Match`, when sent.
    let ifMatch: EntityTagCondition?
    /// `If-None-Match`, when sent.
    let ifNoneMatch: EntityTagCondition?

    /// A field that breaks the `"*" / #entity-tag` grammar.
    struct Malformed: Error, Equatable {
        /// `If-Match` or `If-None-Match`.
        let field: String
        /// What is wrong with it.
        let reason: String

        /// The `400` answer's detail.
        var detail: String {
            "\(self.field) must be '*' or a comma-separated list of entity tags such as \"7\": \(self.reason)"
        }
    }

    /// The target's state the fields are evaluated against.
    enum Representation: Equatable {
        /// The target has no current representation (no such document).
        case none
        /// The target has one, with this entity tag (`nil`: one without a tag, such as a listing).
        case current(EntityTag?)
    }

    /// What the request comes to.
    enum Outcome: Equatable {
        /// Every condition holds (or none was sent): perform the method.
        case proceed
        /// `If-None-Match` is false on `GET` or `HEAD`: `304 Not Modified`.
        case notModified
        /// This field's condition is false: `412 Precondition Failed`.
        case preconditionFailed(field: String)
    }

    /// Parses the two fields.
    /// - Throws: ``Malformed`` naming the first field that breaks the grammar.
    init(ifMatch: String?, ifNoneMatch: String?) throws(Malformed) {
        do {
            self.ifMatch = try ifMatch.map(EntityTagCondition.init(parsing:))
        } catch {
            throw Malformed(field: "If-Match", reason: error.reason)
        }
        do {
            self.ifNoneMatch = try ifNoneMatch.map(EntityTagCondition.init(parsing:))
        } catch {
            throw Malformed(field: "If-None-Match", reason: error.reason)
        }
    }

    /// Whether neither field was sent.
    var isEmpty: Bool { self.ifMatch == nil && self.ifNoneMatch == nil }

    /// Evaluates the fields for a method (`safe`: `GET` or `HEAD`) on a target in state `representation`.
    func evaluate(_ representation: Representation, safe: Bool) -> Outcome {
        if let ifMatch = self.ifMatch, !Self.matches(ifMatch, representation, weakly: false) {
            return .preconditionFailed(field: "If-Match")
        }
        if let ifNoneMatch = self.ifNoneMatch, Self.matches(ifNoneMatch, representation, weakly: true) {
            return safe ? .notModified : .preconditionFailed(field: "If-None-Match")
        }
        return .proceed
    }

    /// Whether `condition` names the current representation: `*` any current one; a list a current one
    /// whose tag is listed (strong comparison for `If-Match`, weak for `If-None-Match`).
    private static func matches(_ condition: EntityTagCondition, _ representation: Representation, weakly: Bool) -> Bool {
        guard case .current(let tag) = representation else { return false }
        switch condition {
        case .any:
            return true
        case .tags(let listed):
            guard let tag else { return false }
            return listed.contains { weakly ? $0.weakMatches(tag) : $0.strongMatches(tag) }
        }
    }
}
