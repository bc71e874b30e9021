import EdgeRouterCore
import Testing

/// The client address behind load balancers, and what a client cannot forge.
struct TrustedProxiesTests {
    @Test func onlyTrustedPeersNameTheClientAndOnlyTheirPartOfTheChainCounts() throws {
        let proxies = try #require(TrustedProxies(["10.0.0.0/8", "192.168.1.5", "::1"]))
        #expect(proxies.clientAddress(peer: "203.0.113.9", forwardedFor: "1.2.3.4") == "203.0.113.9", "an untrusted peer is the client")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: "198.51.100.7") == "198.51.100.7")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: "6.6.6.6, 198.51.100.7, 10.9.9.9") == "198.51.100.7", "a forged left part is ignored")
        #expect(proxies.clientAddress(peer: "::1", forwardedFor: " 198.51.100.8 ") == "198.51.100.8")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: nil) == "10.1.2.3")
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: "10.0.0.1, 10.0.0.2") == "10.0.0.1", "all trusted: the first")
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", forwardedFor: "1.2.3.4") == "127.0.0.1")
    }

    @Test(arguments: ["10.0.0.0/33", "300.1.1.1", "example.com", "10.0.0/8", ""])
    func refusesWhatIsNotAnAddressOrNetwork(entry: String) {
        #expect(TrustedProxies([entry]) == nil)
    }
}
