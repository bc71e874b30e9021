@testable import EdgeRouterCore
import Testing

/// What the edge keeps of an HTTP upstream's answers, as RFC 9111 and RFC 5861 say a shared cache may, with
/// the route's `cache:` as default and ceiling.
struct UpstreamCachePolicyTests {
    /// 2026-12-07 12:00:00 UTC.
    let now: Int64 = 1_796_644_800
    let route = ResponseCache.Freshness(ttl: .seconds(60), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300))

    func decide(
        _ responseHeaders: [(name: String, value: String)] = [],
        method: String = "GET",
        status: Int = 200,
        request: [String: String] = [:],
        sharesAuthorizedAnswers: Bool = false
    ) -> UpstreamCachePolicy.Decision {
        UpstreamCachePolicy(route: self.route, sharesAuthorizedAnswers: sharesAuthorizedAnswers)
            .decide(method: method, requestHeaders: RequestFields(request), status: status, responseHeaders: responseHeaders, now: self.now)
    }

    @Test func anAnswerWithoutDirectivesIsKeptForTheRoutesTimes() {
        #expect(self.decide() == .store(self.route, vary: []))
    }

    @Test func theUpstreamsLifetimeIsUsedButNeverBeyondTheRoutes() {
        #expect(self.decide([("Cache-Control", "max-age=20")]) == .store(.init(ttl: .seconds(20), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        #expect(self.decide([("Cache-Control", "max-age=3600")]) == .store(self.route, vary: []))
        // s-maxage wins over max-age for a shared cache.
        #expect(self.decide([("Cache-Control", "max-age=5, s-maxage=30")]) == .store(.init(ttl: .seconds(30), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        // Stale extensions: the upstream's, capped by the route's.
        #expect(
            self.decide([("Cache-Control", "max-age=20, stale-while-revalidate=2, stale-if-error=9999")])
                == .store(.init(ttl: .seconds(20), staleWhileRevalidate: .seconds(2), staleIfError: .seconds(300)), vary: [])
        )
    }

    @Test func anAnswerAlreadyAgedIsFreshOnlyForWhatIsLeft() {
        #expect(self.decide([("Cache-Control", "max-age=30"), ("Age", "25")]) == .store(.init(ttl: .seconds(5), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        #expect(self.decide([("Cache-Control", "max-age=30"), ("Date", "Mon, 07 Dec 2026 11:59:50 GMT")]) == .store(.init(ttl: .seconds(20), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
    }

    @Test func expiresGivesTheLifetimeAndAnInvalidOneIsAlreadyStale() {
        let date = ("Date", "Mon, 07 Dec 2026 12:00:00 GMT")
        #expect(self.decide([date, ("Expires", "Mon, 07 Dec 2026 12:00:45 GMT")]) == .store(.init(ttl: .seconds(45), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        #expect(self.decide([date, ("Expires", "0")]) == .store(.init(ttl: .zero, staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        // max-age overrides Expires (RFC 9111 §5.3).
        #expect(self.decide([date, ("Expires", "0"), ("Cache-Control", "max-age=15")]) == .store(.init(ttl: .seconds(15), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
    }

    @Test func mustRevalidateForbidsServingStale() {
        #expect(self.decide([("Cache-Control", "max-age=20, must-revalidate")]) == .store(.init(ttl: .seconds(20)), vary: []))
    }

    @Test(arguments: [
        ("no-store", "no-store"), ("private", "private"), ("private=\"set-cookie\", max-age=60", "private"), ("no-cache", "no-cache without a validator"),
    ])
    func whatTheUpstreamForbidsIsNotKept(cacheControl: String, reason: String) {
        #expect(self.decide([("Cache-Control", cacheControl)]) == .doNotStore(reason))
    }

    @Test func aNoCacheAnswerWithAValidatorIsKeptStaleToBeRevalidatedBeforeEachUse() {
        let stale = ResponseCache.Freshness(ttl: .zero)
        #expect(self.decide([("Cache-Control", "no-cache, max-age=60, stale-if-error=60"), ("ETag", "\"a\"")]) == .store(stale, vary: []))
        #expect(self.decide([("Cache-Control", "no-cache"), ("Last-Modified", "Mon, 07 Dec 2026 11:00:00 GMT")]) == .store(stale, vary: []))
    }

    @Test func onlyGETAndCacheableStatusesAreKept() {
        #expect(self.decide(method: "POST") == .doNotStore("method POST"))
        #expect(self.decide(status: 500) == .doNotStore("status 500"))
        #expect(self.decide(status: 206) == .doNotStore("status 206"))
        #expect(self.decide(status: 404) == .store(self.route, vary: []))
    }

    @Test func aRequestSayingNoStoreAnAnswerSettingACookieAndVaryStarAreNotKept() {
        #expect(self.decide(request: ["cache-control": "no-store"]) == .doNotStore("the request says no-store"))
        #expect(self.decide([("Set-Cookie", "session=1")]) == .doNotStore("the answer sets a cookie"))
        #expect(self.decide([("Vary", "Accept, *")]) == .doNotStore("Vary: *"))
        #expect(self.decide([("Vary", "Accept-Encoding"), ("vary", "Accept-Language")]) == .store(self.route, vary: ["accept-encoding", "accept-language"]))
    }

    @Test func anAnswerToAnAuthorizedRequestIsSharedOnlyWhenTheRouteOrTheUpstreamSaysSo() {
        let authorized = ["authorization": "Bearer x"]
        #expect(self.decide(request: authorized) == .doNotStore("the request has Authorization and neither the route nor the answer makes it shareable"))
        #expect(self.decide(request: authorized, sharesAuthorizedAnswers: true) == .store(self.route, vary: []))
        #expect(self.decide([("Cache-Control", "public")], request: authorized) == .store(self.route, vary: []))
        #expect(self.decide([("Cache-Control", "s-maxage=30")], request: authorized) == .store(.init(ttl: .seconds(30), staleWhileRevalidate: .seconds(10), staleIfError: .seconds(300)), vary: []))
        #expect(self.decide([("Cache-Control", "must-revalidate")], request: authorized) == .store(.init(ttl: .seconds(60)), vary: []))
    }

    @Test func cacheControlIsReadTolerantly() {
        let directives = CacheControl("Max-Age=10, max-age=99, foo=\"a,b\", S-MAXAGE=\"20\", stale-if-error=x")
        #expect(directives.maxAge == .seconds(10), "the first of a repeated directive counts")
        #expect(directives.sharedMaxAge == .seconds(20), "quoted and upper-case")
        #expect(directives.staleIfError == nil, "an invalid extension value is ignored")
        #expect(CacheControl("max-age=-1").maxAge == .zero, "an invalid max-age is stale")
        #expect(CacheControl("max-age=99999999999999").maxAge == CacheControl.largestDelta)
        #expect(CacheControl(nil) == CacheControl())
    }

    @Test func httpDatesAreReadInTheIMFFixdateFormatOnly() {
        #expect(HTTPDate.seconds("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.seconds("Mon, 07 Dec 2026 12:00:00 GMT") == self.now)
        #expect(HTTPDate.seconds("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.seconds("Sun Nov  6 08:49:37 1994") == nil)
        #expect(HTTPDate.seconds("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
    }
}
