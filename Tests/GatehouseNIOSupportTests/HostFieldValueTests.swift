import GatehouseNIOSupport
import Testing

/// The `Host` values the HTTP servers accept and refuse (RFC 9110 §7.2: `uri-host [":" port]`).
struct HostFieldValueTests {
    @Test(arguments: [
        "", "edge", "edge:8080", "api.example.com", "127.0.0.1", "127.0.0.1:65535", "[::1]", "[::1]:8080", "[fe80::1]",
        "my_host-1.internal", "host:", ":80", "a~b%41!$&'()*+,;=",
    ])
    func accepted(value: String) {
        #expect(HostFieldValue.isValid(value), "\(value)")
    }

    @Test(arguments: [
        "bad host", "host:port", "host:123456", "[::1", "[]", "[::1]x", "[::g]", "host/path", "host@user", "a\r\nb", "é.example", "host:80:90", "[::1]:80a",
    ])
    func refused(value: String) {
        #expect(!HostFieldValue.isValid(value), "\(value)")
    }
}
