// The mapping between the auth issuer's domain types and its wire messages, in one place.

extension RevocationEvent {
    /// A revocation of the issuer's state as an event.
    init(state revocation: Gatehouse_Auth_Revocation) {
        if case .subject(let subject) = revocation.target {
            self.init(version: Int64(clamping: revocation.version), target: .subject(subject.subject, issuedBefore: subject.issuedBefore))
        } else {
            self.init(version: Int64(clamping: revocation.version), target: .token(jti: revocation.token.jti, expiresAt: revocation.token.expiresAt))
        }
    }
}
