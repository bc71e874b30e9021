/// A route's cross-origin resource sharing (the Fetch standard's CORS protocol), so browsers on other
/// origins may call it: the route file's `cors:` (docs/configuration.md, "Edge route file").
///
/// - A **preflight** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the edge
///   itself, before authentication and rate limiting (a browser sends no credentials with it and it costs
///   the API nothing): `204` with the allowed origin, methods, request headers and `Access-Control-Max-Age`,
///   or a `403` problem naming the origin, method or header that is not allowed.
/// - An **actual request** from an allowed origin gets `Access-Control-Allow-Origin` (the origin itself, or
///   `*` when every origin is allowed without credentials), `Access-Control-Allow-Credentials` when set, and
///   `Access-Control-Expose-Headers`, so scripts can read the rate-limit headers. These are added to the
///   answer as it leaves, never stored in the cache, and `Vary: Origin` tells other caches that the answer
///   depends on the origin.
package struct CORSPolicy: Sendable, Equatable {
    /// Which origins may call.
    package enum Origins: Sendable, Equatable {
        /// Any origin (`origins: ["*"]`); not with credentials, which browsers refuse with `*`.
        case any
        /// These serialized origins (`https://app.example.com`, lower-case, no path).
        case listed(Set<String>)
    }

    /// The request headers allowed when none are configured: those this API reads.
    package static let defaultRequestHeaders = ["authorization", "content-type", "if-match", "if-none-match", "x-request-id"]
    /// The response headers exposed to scripts when none are configured: those this API adds.
    package static let defaultExposedHeaders = ["RateLimit", "RateLimit-Policy", "Retry-After", "ETag", "Location", "X-Request-ID", "Cache-Status"]

    /// Which origins may call.
    package var origins: Origins
    /// The methods a preflight may ask for, upper-case.
    package var methods: [String]
    /// The request headers a preflight may ask for, lower-case.
    package var requestHeaders: [String]
    /// Whether requests may carry credentials (cookies, `Authorization` set by the browser).
    package var allowsCredentials: Bool
    /// How long a browser may keep a preflight's answer.
    package var maxAge: Duration
    /// The response headers scripts may read beyond the CORS-safelisted ones.
    package var exposedHeaders: [String]

    /// Creates a policy.
    package init(
        origins: Origins, methods: [String], requestHeaders: [String] = Self.defaultRequestHeaders, allowsCredentials: Bool = false,
        maxAge: Duration = .seconds(600), exposedHeaders: [String] = Self.defaultExposedHeaders
    ) {
        self.origins = origins
        self.methods = methods
        self.requestHeaders = requestHeaders.map { $0.lowercased() }
        self.allowsCredentials = allowsCredentials
        self.maxAge = maxAge
        self.exposedHeaders = exposedHeaders
    }

    /// Whether a request's `Origin` may call.
    package func allows(origin: String) -> Bool {
        switch self.origins {
        case .any: true
        case .listed(let origins): origins.contains(origin.lowercased())
        }
    }

    /// The answer to a preflight.
    /// - Parameters:
    ///   - origin: The `Origin`.
    ///   - method: The `Access-Control-Request-Method`.
    ///   - headers: The `Access-Control-Request-Headers`, if any.
    package func preflight(origin: String, method: String, headers: String?) -> EdgeResponse {
        let vary = ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        guard self.allows(origin: origin) else {
            return .problem(403, "Forbidden", "the origin \(origin) may not call this route", headers: [vary])
        }
        guard self.methods.contains(method) else {
            return .problem(
                403, "Forbidden", "the method \(method) may not be used from another origin here; allowed: \(self.methods.joined(separator: ", "))",
                headers: [vary]
            )
        }
        let asked = (headers ?? "").split(separator: ",").map { Substring($0).trimmingASCIISpaces().lowercased() }.filter { !$0.isEmpty }
        if let refused = asked.first(where: { !self.requestHeaders.contains($0) }) {
            return .problem(
                403, "Forbidden", "the request header \(refused) may not be sent from another origin here; allowed: \(self.requestHeaders.joined(separator: ", "))",
                headers: [vary]
            )
        }
        var answer = self.originHeaders(origin)
        answer.append(("Access-Control-Allow-Methods", self.methods.joined(separator: ", ")))
        if !asked.isEmpty { answer.append(("Access-Control-Allow-Headers", asked.joined(separator: ", "))) }
        answer.append(("Access-Control-Max-Age", String(self.maxAge.components.seconds)))
        answer.append(vary)
        return EdgeResponse(status: 204, headers: answer)
    }

    /// The headers an actual request's answer gets: none without an `Origin` or for one not allowed (the
    /// browser then withholds the answer from the script), beside `Vary: Origin` whenever the answer
    /// depends on the origin.
    package func responseHeaders(origin: String?) -> [(name: String, value: String)] {
        let vary: [(name: String, value: String)] = self.origins == .any && !self.allowsCredentials ? [] : [("Vary", "Origin")]
        guard let origin, self.allows(origin: origin) else { return vary }
        var headers = self.originHeaders(origin)
        if !self.exposedHeaders.isEmpty { headers.append(("Access-Control-Expose-Headers", self.exposedHeaders.joined(separator: ", "))) }
        return headers + vary
    }

    private func originHeaders(_ origin: String) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Access-Control-Allow-Origin", self.origins == .any && !self.allowsCredentials ? "*" : origin)]
        if self.allowsCredentials { headers.append(("Access-Control-Allow-Credentials", "true")) }
        return headers
    }
}
