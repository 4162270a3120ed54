import Testing

@testable import AmbitCore

struct SpiffeIDTests {
    @Test func parsesTheCanonicalForm() throws {
        let id = try SpiffeID(parsing: "spiffe://cluster.local/ns/payments/sa/ledger-v2")
        #expect(id.trustDomain == "cluster.local")
        #expect(id.namespace == "payments")
        #expect(id.serviceAccount == "ledger-v2")
        #expect(id.uri == "spiffe://cluster.local/ns/payments/sa/ledger-v2")
        #expect(try SpiffeID(parsing: id.uri) == id, "format and parse round-trip")
    }

    @Test func buildsFromParts() throws {
        let id = try SpiffeID(trustDomain: "td.example", namespace: "a_b", serviceAccount: "Svc.1")
        #expect(id.description == "spiffe://td.example/ns/a_b/sa/Svc.1")
    }

    /// Each malformed ID and the words its error must contain, so a person knows which
    /// part to fix.
    @Test(arguments: [
        ("", "scheme"),
        ("http://cluster.local/ns/a/sa/b", "scheme"),
        ("SPIFFE://cluster.local/ns/a/sa/b", "scheme"),
        ("spiffe://", "path is missing"),
        ("spiffe://cluster.local", "path is missing"),
        ("spiffe:///ns/a/sa/b", "trust domain is empty"),
        ("spiffe://Cluster.Local/ns/a/sa/b", "trust domain 'Cluster.Local'"),
        ("spiffe://cluster.local:8080/ns/a/sa/b", "port"),
        ("spiffe://user@cluster.local/ns/a/sa/b", "user info"),
        ("spiffe://cluster.local/", "must be exactly /ns/"),
        ("spiffe://cluster.local/ns/a", "must be exactly /ns/"),
        ("spiffe://cluster.local/ns/a/sa/b/", "must be exactly /ns/"),
        ("spiffe://cluster.local/ns/a/sa/b/c", "must be exactly /ns/"),
        ("spiffe://cluster.local/namespace/a/sa/b", "must be exactly /ns/"),
        ("spiffe://cluster.local/ns/a/serviceaccount/b", "must be exactly /ns/"),
        ("spiffe://cluster.local/ns//sa/b", "namespace is empty"),
        ("spiffe://cluster.local/ns/a/sa/", "service account is empty"),
        ("spiffe://cluster.local/ns/../sa/b", "namespace must not be '.' or '..'"),
        ("spiffe://cluster.local/ns/a/sa/.", "service account must not be '.' or '..'"),
        ("spiffe://cluster.local/ns/a b/sa/c", "namespace 'a b'"),
        ("spiffe://cluster.local/ns/a/sa/b%20c", "service account 'b%20c'"),
        ("spiffe://cluster.local/ns/a/sa/b?x=1", "query or fragment"),
        ("spiffe://cluster.local/ns/a/sa/b#frag", "query or fragment"),
        ("spiffe://cluster.local/ns/ä/sa/b", "namespace 'ä'"),
    ])
    func rejectsMalformedIDsSayingWhichPartIsWrong(_ text: String, _ reason: String) {
        #expect {
            try SpiffeID(parsing: text)
        } throws: { error in
            guard let error = error as? CoreError else { return false }
            return error.code == .invalidSpiffeID && error.message.contains(reason)
                && error.message.contains("invalid SPIFFE ID '\(text)'")
        }
    }

    @Test func rejectsOverlongIDs() {
        let long = "spiffe://cluster.local/ns/a/sa/" + String(repeating: "x", count: 2100)
        #expect(throws: CoreError.self) { try SpiffeID(parsing: long) }
    }

    @Test func rejectsBadPartsWhenBuilt() {
        #expect(throws: CoreError.self) { try SpiffeID(trustDomain: "", namespace: "a", serviceAccount: "b") }
        #expect(throws: CoreError.self) { try SpiffeID(trustDomain: "td", namespace: "a/b", serviceAccount: "c") }
    }
}

struct HostPortTests {
    @Test func parsesIPv4IPv6AndNames() throws {
        #expect(try HostPort(parsing: "10.0.0.5:8080") == HostPort(host: "10.0.0.5", port: 8080))
        #expect(try HostPort(parsing: "[fd00::5]:15008") == HostPort(host: "fd00::5", port: 15008))
        #expect(try HostPort(parsing: "reviews.default.svc.cluster.local:9080").host == "reviews.default.svc.cluster.local")
        #expect(HostPort(host: "fd00::5", port: 1).description == "[fd00::5]:1")
    }

    @Test(arguments: ["10.0.0.5", "10.0.0.5:", ":80", "10.0.0.5:0", "10.0.0.5:65536", "10.0.0.5:8o", "fd00::5:80", "[fd00::5:80", "a b:1"])
    func rejects(_ text: String) {
        #expect(throws: CoreError.self) { try HostPort(parsing: text) }
    }
}
