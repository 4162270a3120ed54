import Testing

@testable import AmbitCore

/// The questions the data plane asks a snapshot per connection: is this pod in the mesh,
/// which pods back this service, which waypoint, which mutual-TLS mode.
@Suite("Mesh snapshot")
struct MeshSnapshotTests {
    static func snapshot(_ yaml: String) -> MeshSnapshot {
        try! MeshSnapshot(ResourceDecoder.decodeFile(yaml, file: "test"))
    }

    static func namespace(_ name: String, _ labels: String = "{}") -> String {
        "---\nkind: Namespace\nmetadata: {name: \(name), labels: \(labels)}\n"
    }

    static func workload(_ name: String, ns: String = "shop", ip: String, labels: String = "{}") -> String {
        "---\nkind: Workload\nmetadata: {name: \(name), namespace: \(ns), labels: \(labels)}\nspec: {node: n, addresses: [\(ip)]}\n"
    }

    static func service(_ name: String, ns: String = "shop", labels: String = "{}", selector: String = "{app: web}", vip: String = "[]") -> String {
        "---\nkind: Service\nmetadata: {name: \(name), namespace: \(ns), labels: \(labels)}\n"
            + "spec: {selector: \(selector), addresses: \(vip), ports: [{port: 80}]}\n"
    }

    static func peer(_ name: String, ns: String = "shop", _ spec: String) -> String {
        "---\nkind: PeerAuthentication\nmetadata: {name: \(name), namespace: \(ns)}\nspec: \(spec)\n"
    }

    static func workload(_ s: MeshSnapshot, _ name: String) -> Workload {
        s.workloads.first { $0.metadata.name == name }!
    }

    // MARK: - Enrolment

    @Test("a workload is in the mesh when it or its namespace says ambient, and `none` on the workload opts out")
    func enrolment() {
        let s = Self.snapshot(
            Self.namespace("shop", "{ambit.dev/dataplane-mode: ambient}") + Self.namespace("legacy")
                + Self.workload("plain", ip: "10.0.0.1")
                + Self.workload("opted-out", ip: "10.0.0.2", labels: "{ambit.dev/dataplane-mode: none}")
                + Self.workload("old", ns: "legacy", ip: "10.0.1.1")
                + Self.workload("opted-in", ns: "legacy", ip: "10.0.1.2", labels: "{ambit.dev/dataplane-mode: ambient}")
                + Self.workload("no-namespace-object", ns: "ghost", ip: "10.0.2.1"))
        let enrolled = s.workloads.filter(s.isEnrolled).map(\.metadata.name)
        #expect(enrolled == ["plain", "opted-in"])
    }

    @Test("addresses find their workload or service, and identities use the mesh trust domain")
    func lookups() {
        let s = Self.snapshot(
            "kind: MeshConfig\nmetadata: {name: m}\nspec: {trustDomain: example.org}\n"
                + Self.workload("web", ip: "10.0.0.1") + Self.service("web", vip: "[10.96.0.1]"))
        #expect(s.workload(at: IPAddress("10.0.0.1")!)?.metadata.name == "web")
        #expect(s.service(at: IPAddress("10.96.0.1")!)?.metadata.name == "web")
        #expect(s.workload(at: IPAddress("10.96.0.1")!) == nil && s.service(at: IPAddress("10.0.0.1")!) == nil)
        #expect(s.identity(of: Self.workload(s, "web"))?.uri == "spiffe://example.org/ns/shop/sa/default")
    }

    // MARK: - Services

    @Test("endpoints are the workloads of the service's namespace whose labels include the selector, sorted")
    func endpoints() {
        let s = Self.snapshot(
            Self.workload("web-b", ip: "10.0.0.2", labels: "{app: web, version: v2}")
                + Self.workload("web-a", ip: "10.0.0.1", labels: "{app: web}")
                + Self.workload("db", ip: "10.0.0.3", labels: "{app: db}")
                + Self.workload("web-elsewhere", ns: "other", ip: "10.0.1.1", labels: "{app: web}")
                + Self.service("web") + Self.service("v2", selector: "{app: web, version: v2}")
                + Self.service("headless", selector: "{}"))
        func names(_ service: String) -> [String] {
            s.endpoints(of: s.services.first { $0.metadata.name == service }!).map(\.metadata.name)
        }
        #expect(names("web") == ["web-a", "web-b"])
        #expect(names("v2") == ["web-b"])
        #expect(names("headless") == [], "an empty selector selects nothing")
    }

    @Test("a service's own use-waypoint label beats its namespace's")
    func waypointName() {
        let s = Self.snapshot(
            Self.namespace("shop", "{ambit.dev/use-waypoint: shop-waypoint}") + Self.namespace("other")
                + Self.service("inherits") + Self.service("own", labels: "{ambit.dev/use-waypoint: special}")
                + Self.service("none", ns: "other"))
        func name(_ service: String) -> String? { s.waypointName(for: s.services.first { $0.metadata.name == service }!) }
        #expect(name("inherits") == "shop-waypoint")
        #expect(name("own") == "special")
        #expect(name("none") == nil)
    }

    @Test("service hostnames use the cluster domain and leave out services without a VIP")
    func hostnames() {
        let s = Self.snapshot(
            "kind: MeshConfig\nmetadata: {name: m}\nspec: {clusterDomain: mesh.test}\n"
                + Self.service("web", vip: "[10.96.0.1, \"fd00::1\"]") + Self.service("headless"))
        let names = s.serviceHostnames()
        #expect(names.map(\.hostname) == ["web.shop.svc.mesh.test"])
        #expect(names.first?.addresses == [IPAddress("10.96.0.1")!, IPAddress("fd00::1")!])
    }

    // MARK: - Mutual TLS

    static let web = workload("web", ip: "10.0.0.1", labels: "{app: web}")

    static func mode(_ resources: String, port: Int = 8080) -> MutualTLSMode {
        let s = snapshot(web + resources)
        return s.mutualTLSMode(for: workload(s, "web"), port: port)
    }

    @Test("with no PeerAuthentication the mode is PERMISSIVE")
    func defaultMode() {
        #expect(Self.mode("") == .permissive)
    }

    @Test("the most specific PeerAuthentication wins: workload selector, then namespace, then root namespace")
    func precedence() {
        let root = Self.peer("mesh", ns: "ambit-system", "{mtls: {mode: STRICT}}")
        let namespace = Self.peer("ns", "{mtls: {mode: DISABLE}}")
        let selected = Self.peer("web", "{selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}}")
        let otherWorkload = Self.peer("db", "{selector: {matchLabels: {app: db}}, mtls: {mode: DISABLE}}")
        let otherNamespace = Self.peer("x", ns: "other", "{mtls: {mode: DISABLE}}")
        #expect(Self.mode(root) == .strict)
        #expect(Self.mode(root + otherNamespace + otherWorkload) == .strict)
        #expect(Self.mode(root + namespace) == .disable)
        #expect(Self.mode(root + namespace + selected) == .permissive)
    }

    @Test("UNSET inherits from the next level up")
    func unsetInherits() {
        let root = Self.peer("mesh", ns: "ambit-system", "{mtls: {mode: STRICT}}")
        #expect(Self.mode(root + Self.peer("ns", "{mtls: {mode: UNSET}}")) == .strict)
        #expect(Self.mode(root + Self.peer("web", "{selector: {matchLabels: {app: web}}}")) == .strict)
        #expect(Self.mode(Self.peer("ns", "{}")) == .permissive)
    }

    @Test("portLevelMtls overrides the workload's mode on that port only; an UNSET port inherits")
    func portLevel() {
        let resources = Self.peer("ns", "{mtls: {mode: STRICT}}")
            + Self.peer("web", "{selector: {matchLabels: {app: web}}, portLevelMtls: {9090: {mode: DISABLE}, 9091: {mode: UNSET}}}")
        #expect(Self.mode(resources, port: 9090) == .disable)
        #expect(Self.mode(resources, port: 9091) == .strict)
        #expect(Self.mode(resources, port: 8080) == .strict)
    }

    @Test("a root namespace named in MeshConfig is the one that applies mesh-wide")
    func customRoot() {
        let config = "---\nkind: MeshConfig\nmetadata: {name: m}\nspec: {rootNamespace: istio-system}\n"
        let strictInIstio = Self.peer("mesh", ns: "istio-system", "{mtls: {mode: STRICT}}")
        let strictInAmbit = Self.peer("mesh", ns: "ambit-system", "{mtls: {mode: STRICT}}")
        #expect(Self.mode(config + strictInIstio) == .strict)
        #expect(Self.mode(config + strictInAmbit) == .permissive)
    }
}

/// The JSON the admin endpoints and the CLI print: compact, keys in the order given, and
/// strings escaped so any workload or policy name stays one valid JSON string.
@Suite("JSON text")
struct JSONTests {
    @Test("strings escape quotes, backslashes and control characters", arguments: [
        ("plain", #""plain""#),
        (#"say "hi""#, #""say \"hi\"""#),
        (#"C:\path"#, #""C:\\path""#),
        ("a\nb\rc\td", #""a\nb\rc\td""#),
        ("\u{0}\u{1}\u{1f}", #""\u0000\u0001\u001f""#),
        ("\u{7f} é 🚀 /", "\"\u{7f} é 🚀 /\""),
        ("", #""""#),
    ])
    func strings(value: String, text: String) {
        #expect(JSON.string(value).text == text)
    }

    @Test("scalars print as JSON does; non-finite doubles become null")
    func scalars() {
        #expect(JSON.int(-42).text == "-42")
        #expect(JSON.double(1.5).text == "1.5")
        #expect(JSON.double(.infinity).text == "null")
        #expect(JSON.double(.nan).text == "null")
        #expect(JSON.bool(true).text == "true" && JSON.bool(false).text == "false")
        #expect(JSON.null.text == "null")
        #expect(JSON.optional(nil).text == "null" && JSON.optional("x").text == #""x""#)
    }

    @Test("objects keep their key order and escape their keys; arrays nest with no spaces")
    func containers() {
        let value: JSON = .object([
            ("z", 1), ("a", .array([true, "two", .null, .array([])])), ("we\"ird", .object([])),
        ])
        #expect(value.text == #"{"z":1,"a":[true,"two",null,[]],"we\"ird":{}}"#)
    }

    @Test("two values are equal when their text is")
    func equality() {
        #expect(JSON.object([("a", 1)]) == JSON.object([("a", .int(1))]))
        #expect(JSON.object([("a", 1), ("b", 2)]) != JSON.object([("b", 2), ("a", 1)]))
        #expect(JSON.int(1) != JSON.string("1"))
    }
}
