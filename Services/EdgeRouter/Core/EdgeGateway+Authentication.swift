import GatehouseAuthAPI
import GatehouseLimiterPolicies
import Metrics

/// The gateway's first two steps: who is calling (the bearer token, verified locally, with the failure
/// budget of addresses that send bad tokens), and whether the route lets that caller in.
extension EdgeGateway {
    enum Authenticated {
        case caller(EdgeCaller)
        case refused(EdgeResponse)
    }

    func authenticate(_ request: EdgeRequest, route: EdgeRoute) async -> Authenticated {
        guard route.authentication != .none else { return .caller(EdgeCaller()) }
        guard let authorization = request.header("authorization") else {
            if route.authentication == .optional { return .caller(EdgeCaller()) }
            return .refused(.problem(401, "Unauthorized", "this route needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)]))
        }
        // Credentials of another scheme (`Basic …`) are refused on optional routes too (the caller believes it
        // is authenticated), with a challenge without an error code (RFC 6750 §3.1), and are no bad token.
        guard Self.isBearerScheme(authorization) else {
            return .refused(.problem(
                401, "Unauthorized", "this route takes a bearer token; the Authorization header uses another scheme",
                headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)]
            ))
        }
        let bearer = Self.bearerToken(authorization).map(String.init)
        if let policy = self.failurePolicy, self.recentFailures.contains("ip:\(request.clientIP)"), !(bearer.map(self.verifier.isRemembered) ?? false) {
            // This address sent bad tokens lately: ask its failure budget before any signature work.
            let budget = await self.limiter.decide(
                policies: [policy], for: self.failureKeyValues(request, route: route), requestID: request.requestID, charge: false
            )
            if !budget.allowed {
                return .refused(.problem(
                    429, "Too Many Requests", "too many invalid tokens from this address; retry after \(budget.retryAfterSeconds) s",
                    headers: [("Retry-After", "\(budget.retryAfterSeconds)")]
                ))
            }
        }
        guard let token = bearer else {
            await self.tokenFailed(request, route: route)
            return .refused(Self.invalidToken(.malformed))
        }
        var result = await self.verifier.verify(token)
        if case .failure(.unknownKey) = result, await self.authEvents.unknownKeySeen() {
            result = await self.verifier.verify(token)
        }
        switch result {
        case .success(let claims):
            return .caller(EdgeCaller(claims: claims))
        case .failure(let rejection):
            EdgeMetrics.authFailure(rejection).increment()
            await self.tokenFailed(request, route: route)
            return .refused(Self.invalidToken(rejection))
        }
    }

    /// The caller when it is known without waiting: a route without authentication, an optional one without
    /// `Authorization`, or a bearer token verified before, still live. `nil` for anything else, including
    /// what ``authenticate(_:route:)`` refuses: only it decides those.
    func authenticatedAtOnce(_ request: EdgeRequest, route: EdgeRoute) -> EdgeCaller? {
        guard route.authentication != .none else { return EdgeCaller() }
        guard let authorization = request.header("authorization") else { return route.authentication == .optional ? EdgeCaller() : nil }
        guard let token = Self.bearerToken(authorization),
            case .success(let claims) = self.verifier.rememberedVerdict(token)
        else { return nil }
        return EdgeCaller(claims: claims)
    }

    /// Counts a failed verification against the address's failure budget and marks the address.
    private func tokenFailed(_ request: EdgeRequest, route: EdgeRoute) async {
        guard let policy = self.failurePolicy else { return }
        self.recentFailures.mark("ip:\(request.clientIP)")
        _ = await self.limiter.decide(policies: [policy], for: self.failureKeyValues(request, route: route), requestID: request.requestID)
    }

    /// The key values of a request whose token failed: an anonymous caller (tier `anonymous`).
    private func failureKeyValues(_ request: EdgeRequest, route: EdgeRoute) -> PolicyKeyValues {
        self.limiter.keyValues(of: request, route: route.path, claims: nil, tier: "anonymous")
    }

    /// Whether an `Authorization` value uses the `Bearer` scheme (case-insensitive), whatever follows.
    static func isBearerScheme(_ authorization: String) -> Bool {
        var authorization = authorization
        return authorization.withUTF8 { bytes in
            guard bytes.count >= 6, bytes.count == 6 || bytes[6] == UInt8(ascii: " ") else { return false }
            return ASCIICaseInsensitive.hasPrefix(bytes, "bearer")
        }
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, spaces and tabs trimmed), a slice of the value
    /// found by reading its bytes once: nothing is copied until a token must be verified.
    static func bearerToken(_ authorization: String) -> Substring? {
        guard Self.isBearerScheme(authorization) else { return nil }
        var value = authorization
        let bounds = value.withUTF8 { bytes -> Range<Int>? in
            var start = 7
            var end = bytes.count
            while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            return start < end ? start..<end : nil
        }
        guard let bounds else { return nil }
        // The bounds sit next to ASCII bytes (or at the ends), so they are character boundaries.
        let utf8 = authorization.utf8
        return authorization[utf8.index(utf8.startIndex, offsetBy: bounds.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: bounds.upperBound)]
    }

    static func invalidToken(_ rejection: TokenRejection) -> EdgeResponse {
        .problem(
            401, "Unauthorized", rejection.message,
            headers: [("WWW-Authenticate", #"Bearer realm="gatehouse", error="invalid_token", error_description=""# + rejection.message + "\"")]
        )
    }

    static func authorize(_ caller: EdgeCaller, route: EdgeRoute) -> EdgeResponse? {
        guard let claims = caller.claims else {
            return route.roles.isEmpty && route.scopes.isEmpty && !route.ownerOnly
                ? nil : .problem(401, "Unauthorized", "this route needs a bearer token", headers: [("WWW-Authenticate", #"Bearer realm="gatehouse""#)])
        }
        if !route.roles.isEmpty, !route.roles.contains(where: claims.roles.contains) {
            return .problem(403, "Forbidden", "this route needs one of the roles \(route.roles.joined(separator: ", "))")
        }
        let missing = route.scopes.filter { !claims.scopes.contains($0) }
        if !missing.isEmpty {
            return .problem(
                403, "Forbidden", "the token lacks the scope \(missing.joined(separator: " "))",
                headers: [("WWW-Authenticate", #"Bearer realm="gatehouse", error="insufficient_scope", scope=""# + route.scopes.joined(separator: " ") + "\"")]
            )
        }
        return nil
    }
}
