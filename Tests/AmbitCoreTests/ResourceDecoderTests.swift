import Testing

@testable import AmbitCore

/// What a config file may hold, and the exact words a person reads when it holds something
/// else: file, document, resource, field path and reason.
@Suite("Decoding resources")
struct ResourceDecoderTests {
    static let mesh = """
        apiVersion: ambit.dev/v1
        kind: MeshConfig
        metadata: {name: mesh}
        spec: {trustDomain: example.org, rootNamespace: mesh-root, certificateTTLSeconds: 3600}
        ---
        kind: Namespace
        metadata:
          name: shop
          labels: {ambit.dev/dataplane-mode: ambient}
        ---
        kind: Workload
        metadata: {name: web-1, namespace: shop, labels: {app: web}}
        spec:
          serviceAccount: web
          node: node-a
          addresses: [10.0.0.5, "fd00::5"]
          netns: /var/run/netns/web-1
          dnsServers: [10.96.0.10]
        ---
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          selector: {app: web}
          addresses: [10.96.0.20]
          ports:
          - {name: http, port: 80, targetPort: 8080, appProtocol: http, protocol: TCP}
        ---
        kind: AuthorizationPolicy
        metadata: {name: only-frontend, namespace: shop}
        spec:
          selector: {matchLabels: {app: web}}
          action: DENY
          rules:
          - from: [{source: {notPrincipals: ["example.org/ns/shop/sa/frontend"], ipBlocks: [10.0.0.0/8]}}]
            to: [{operation: {ports: ["8080"]}}]
            when: [{key: source.namespace, notValues: [shop]}]
        ---
        kind: PeerAuthentication
        metadata: {name: strict, namespace: shop}
        spec:
          selector: {matchLabels: {app: web}}
          mtls: {mode: STRICT}
          portLevelMtls: {"9090": {mode: PERMISSIVE}}
        """

    @Test("a multi-document YAML file decodes into one resource of each kind, in order")
    func multiDocumentYAML() throws {
        let resources = try ResourceDecoder.decodeFile(Self.mesh, file: "mesh.yaml")
        #expect(resources.map(\.kind) == Array(ResourceDecoder.kinds.prefix(6)).rotatedToMeshConfigFirst)

        guard case .meshConfig(let config) = resources[0], case .namespace(let ns) = resources[1],
            case .workload(let web) = resources[2], case .service(let svc) = resources[3],
            case .authorizationPolicy(let policy) = resources[4], case .peerAuthentication(let peer) = resources[5]
        else { Issue.record("unexpected kinds: \(resources.map(\.kind))"); return }

        #expect(config.trustDomain == "example.org" && config.rootNamespace == "mesh-root" && config.certificateTTL == 3600)
        #expect(config.clusterDomain == "cluster.local")
        #expect(ns.metadata == ObjectMeta(name: "shop", labels: ["ambit.dev/dataplane-mode": "ambient"]))
        #expect(web.metadata == ObjectMeta(name: "web-1", namespace: "shop", labels: ["app": "web"]))
        #expect(web.serviceAccount == "web" && web.node == "node-a" && web.netns == "/var/run/netns/web-1")
        #expect(web.addresses == [IPAddress("10.0.0.5")!, IPAddress("fd00::5")!])
        #expect(web.dnsServers == [IPAddress("10.96.0.10")!])
        #expect(svc.selector == ["app": "web"] && svc.addresses == [IPAddress("10.96.0.20")!])
        #expect(svc.ports == [ServicePort(name: "http", port: 80, targetPort: 8080, appProtocol: "http")])
        #expect(policy.action == .deny && policy.selector == ["app": "web"] && policy.rules.count == 1)
        #expect(policy.rules[0].from[0].notPrincipals == ["example.org/ns/shop/sa/frontend"])
        #expect(policy.rules[0].from[0].ipBlocks == [CIDR("10.0.0.0/8")!])
        #expect(policy.rules[0].to[0].ports == [8080])
        #expect(policy.rules[0].when == [.init(key: "source.namespace", notValues: ["shop"])])
        #expect(peer.selector == ["app": "web"] && peer.mode == .strict && peer.portModes == [9090: .permissive])
    }

    @Test("JSON is read the same way as YAML")
    func json() throws {
        let text = """
            {"kind": "Service", "metadata": {"name": "db", "namespace": "data", "labels": {"tier": "1"}},
             "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}}
            """
        let resources = try ResourceDecoder.decodeFile(text, file: "db.json")
        #expect(resources == [.service(Service(
            metadata: ObjectMeta(name: "db", namespace: "data", labels: ["tier": "1"]),
            selector: ["app": "db"], addresses: [], ports: [ServicePort(port: 5432)]))])
    }

    @Test("empty documents between separators are skipped")
    func emptyDocuments() throws {
        let resources = try ResourceDecoder.decodeFile("---\n---\nkind: Namespace\nmetadata: {name: a}\n---\n", file: "f")
        #expect(resources == [.namespace(Namespace(metadata: ObjectMeta(name: "a")))])
    }

    @Test("defaults: namespace 'default', service account 'default', targetPort = port")
    func defaults() throws {
        let text = """
            kind: Workload
            metadata: {name: w}
            spec: {node: n, addresses: [10.0.0.1]}
            ---
            kind: Service
            metadata: {name: s}
            spec: {ports: [{port: 80}]}
            """
        let resources = try ResourceDecoder.decodeFile(text, file: "f")
        #expect(resources == [
            .workload(Workload(metadata: ObjectMeta(name: "w", namespace: "default"), serviceAccount: "default", node: "n",
                               addresses: [IPAddress("10.0.0.1")!])),
            .service(Service(metadata: ObjectMeta(name: "s", namespace: "default"), selector: [:], addresses: [],
                             ports: [ServicePort(port: 80, targetPort: 80)])),
        ])
    }

    @Test("an AuthorizationPolicy defaults to ALLOW, and `spec: {}` is allow-nothing: no rules")
    func allowNothing() throws {
        for spec in ["spec: {}", "spec:", ""] {
            let resources = try ResourceDecoder.decodeFile("kind: AuthorizationPolicy\nmetadata: {name: p}\n\(spec)", file: "f")
            #expect(resources == [.authorizationPolicy(AuthorizationPolicy(metadata: ObjectMeta(name: "p", namespace: "default")))])
            guard case .authorizationPolicy(let p) = resources.first else { continue }
            #expect(p.action == .allow && p.rules.isEmpty && p.selector == nil)
        }
    }

    @Test("a PeerAuthentication with no spec is UNSET, and a MeshConfig with no spec keeps the defaults")
    func emptySpecs() throws {
        let text = "kind: PeerAuthentication\nmetadata: {name: p}\n---\nkind: MeshConfig\nmetadata: {name: m}"
        let resources = try ResourceDecoder.decodeFile(text, file: "f")
        #expect(resources == [
            .peerAuthentication(PeerAuthentication(metadata: ObjectMeta(name: "p", namespace: "default"), mode: .unset)),
            .meshConfig(MeshConfig()),
        ])
    }

    // MARK: - Refused documents

    /// One bad document, what it tries, and the full message.
    struct Bad: Sendable, CustomTestStringConvertible {
        let what: String
        let text: String
        let message: String
        var testDescription: String { what }
        init(_ what: String, _ text: String, _ message: String) {
            self.what = what
            self.text = text
            self.message = message
        }
    }

    static let workload = "kind: Workload\nmetadata: {name: web, namespace: shop}\nspec: "
    static let service = "kind: Service\nmetadata: {name: web, namespace: shop}\nspec: "
    static let policy = "kind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec: "
    static let peer = "kind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\nspec: "
    static let ok = "{node: n, addresses: [10.0.0.1]}"
    static func from(_ source: String) -> String { policy + "{rules: [{from: [{source: \(source)}]}]}" }

    static let badDocuments: [Bad] = [
        Bad("unknown kind", "kind: Pod\nmetadata: {name: a}",
            "mesh.yaml, document 1: kind: unknown kind 'Pod'; known kinds: Namespace, Workload, Service, AuthorizationPolicy, PeerAuthentication, MeshConfig, Gateway, HTTPRoute, GRPCRoute, DestinationRule, HTTPFault"),
        Bad("kind missing", "metadata: {name: a}", "mesh.yaml, document 1: kind: is required"),
        Bad("metadata missing", "kind: Namespace", "mesh.yaml, document 1 (Namespace): metadata: is required"),
        Bad("metadata.name missing", "kind: Namespace\nmetadata: {labels: {a: b}}",
            "mesh.yaml, document 1 (Namespace): metadata.name: is required"),
        Bad("a document that is a list", "[1, 2]", "mesh.yaml, document 1: must be a map, got a list"),
        Bad("unknown top-level field", "kind: Namespace\nmetadata: {name: a}\nspec: {}",
            "mesh.yaml, document 1 (Namespace a): spec: unknown field (known here: apiVersion, kind, metadata)"),
        Bad("unknown field in metadata", "kind: Namespace\nmetadata: {name: a, lables: {x: y}}",
            "mesh.yaml, document 1 (Namespace): metadata.lables: unknown field (known here: annotations, labels, name, namespace)"),
        Bad("unknown field in spec", workload + "{node: n, addresses: [10.0.0.1], image: nginx}",
            "mesh.yaml, document 1 (Workload shop/web): spec.image: unknown field (known here: addresses, dnsServers, netns, node, serviceAccount)"),
        Bad("unknown field in a service port", service + "{ports: [{port: 80, nodePort: 30080}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].nodePort: unknown field (known here: appProtocol, name, port, protocol, targetPort)"),
        Bad("unknown field in a rule source", from("{principal: [a]}"),
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source.principal: unknown field (known here: ipBlocks, namespaces, notIpBlocks, notNamespaces, notPrincipals, notRequestPrincipals, principals, requestPrincipals)"),
        Bad("a string for a number", service + "{ports: [{port: \"80\"}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].port: must be a whole number, got a string"),
        Bad("a fraction for a port", service + "{ports: [{port: 80.5}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].port: must be a whole number, got 80.5"),
        Bad("a map for a list", workload + "{node: n, addresses: {first: 10.0.0.1}}",
            "mesh.yaml, document 1 (Workload shop/web): spec.addresses: must be a list, got a map"),
        Bad("a list for a string", workload + "{node: [a, b], addresses: [10.0.0.1]}",
            "mesh.yaml, document 1 (Workload shop/web): spec.node: must be a string, got a list"),
        Bad("an upper-case name", "kind: Namespace\nmetadata: {name: Shop}",
            "mesh.yaml, document 1 (Namespace): metadata.name: 'Shop' is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"),
        Bad("a name of 64 characters", "kind: Namespace\nmetadata: {name: \(String(repeating: "a", count: 64))}",
            "mesh.yaml, document 1 (Namespace): metadata.name: '\(String(repeating: "a", count: 64))' is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"),
        Bad("a namespace on a cluster-scoped kind", "kind: Namespace\nmetadata: {name: a, namespace: b}",
            "mesh.yaml, document 1 (Namespace): metadata.namespace: Namespace is cluster-scoped and takes no namespace"),
        Bad("a label value over 63 characters", "kind: Namespace\nmetadata: {name: a, labels: {k: \(String(repeating: "v", count: 64))}}",
            "mesh.yaml, document 1 (Namespace): metadata.labels.k: label keys must not be empty and values are at most 63 characters"),
        Bad("a bad IP address", workload + "{node: n, addresses: [10.0.0.1, 10.0.0.256]}",
            "mesh.yaml, document 1 (Workload shop/web): spec.addresses[1]: '10.0.0.256' is not an IPv4 or IPv6 address"),
        Bad("no address", workload + "{node: n, addresses: []}",
            "mesh.yaml, document 1 (Workload shop/web): spec.addresses: a workload needs at least one address"),
        Bad("no node", workload + "{addresses: [10.0.0.1]}", "mesh.yaml, document 1 (Workload shop/web): spec.node: is required"),
        Bad("a relative netns path", workload + "{node: n, addresses: [10.0.0.1], netns: web}",
            "mesh.yaml, document 1 (Workload shop/web): spec.netns: must be an absolute path such as /var/run/netns/NAME or /proc/PID/ns/net"),
        Bad("port 0", service + "{ports: [{port: 0}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].port: must be from 1 to 65535, got 0"),
        Bad("port 70000", service + "{ports: [{port: 80, targetPort: 70000}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].targetPort: must be from 1 to 65535, got 70000"),
        Bad("a port listed twice", service + "{ports: [{port: 80}, {port: 80, name: again}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[1].port: port 80 is listed twice"),
        Bad("UDP", service + "{ports: [{port: 53, protocol: UDP}]}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports[0].protocol: only TCP is supported, got 'UDP'"),
        Bad("a service with no ports", service + "{selector: {app: web}}",
            "mesh.yaml, document 1 (Service shop/web): spec.ports: a service needs at least one port"),
        Bad("an unknown action", policy + "{action: REJECT}",
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.action: must be one of ALLOW, DENY, AUDIT, got 'REJECT'"),
        Bad("a bad CIDR", from("{ipBlocks: [10.0.0.0/33]}"),
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source.ipBlocks[0]: '10.0.0.0/33' is not an address or CIDR block such as 10.0.0.0/8"),
        Bad("an empty namespace in a principal", from("{principals: [\"cluster.local/ns//sa/x\"]}"),
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source.principals[0]: 'cluster.local/ns//sa/x' is not a principal: invalid SPIFFE ID 'spiffe://cluster.local/ns//sa/x': the namespace is empty; write TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT"),
        Bad("two stars in a principal", from("{notPrincipals: [\"*/ns/*\"]}"),
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source.notPrincipals[0]: '*/ns/*': a principal may hold one '*', at its start or end"),
        Bad("a star in the middle of a principal", from("{principals: [\"cluster.local/ns/*/sa/x\"]}"),
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source.principals[0]: 'cluster.local/ns/*/sa/x': a principal may hold one '*', at its start or end"),
        Bad("a source without `source`", policy + "{rules: [{from: [{}]}]}",
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].from[0].source: is required"),
        Bad("a port that is a name", policy + "{rules: [{to: [{operation: {ports: [http]}}]}]}",
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].to[0].operation.ports[0]: 'http' is not a port from 1 to 65535"),
        Bad("a condition without values", policy + "{rules: [{when: [{key: source.ip}]}]}",
            "mesh.yaml, document 1 (AuthorizationPolicy shop/p): spec.rules[0].when[0]: a condition needs values or notValues"),
        Bad("an unknown mTLS mode", peer + "{mtls: {mode: strict}}",
            "mesh.yaml, document 1 (PeerAuthentication shop/p): spec.mtls.mode: must be one of UNSET, PERMISSIVE, STRICT, DISABLE, got 'strict'"),
        Bad("portLevelMtls without a selector", peer + "{portLevelMtls: {8080: {mode: DISABLE}}}",
            "mesh.yaml, document 1 (PeerAuthentication shop/p): spec.portLevelMtls: port-level modes need a workload selector (as in Istio)"),
        Bad("portLevelMtls keyed by a name", peer + "{selector: {matchLabels: {a: b}}, portLevelMtls: {http: {mode: DISABLE}}}",
            "mesh.yaml, document 1 (PeerAuthentication shop/p): spec.portLevelMtls.http: 'http' is not a port"),
        Bad("a bad trust domain", "kind: MeshConfig\nmetadata: {name: m}\nspec: {trustDomain: Example.org}",
            "mesh.yaml, document 1 (MeshConfig m): spec.trustDomain: invalid SPIFFE ID 'Example.org': the trust domain 'Example.org' may hold only lower-case letters, digits, '.', '-' and '_'"),
        Bad("a key twice in one map", "kind: Namespace\nmetadata: {name: a, name: b}",
            "mesh.yaml: line 2, column 12: the key 'name' appears twice in one map"),
        Bad("a map as a map key", "kind: Namespace\nmetadata: {name: a, {x: y}: b}",
            "mesh.yaml, document 1: map keys must be plain strings"),
        Bad("an error in the second document", "kind: Namespace\nmetadata: {name: a}\n---\n" + workload + "{addresses: [10.0.0.1]}",
            "mesh.yaml, document 2 (Workload shop/web): spec.node: is required"),
        Bad("YAML that does not parse", "kind: Namespace\nmetadata: {name: a",
            "mesh.yaml: not valid YAML or JSON: 3:1: error: parser: while parsing a flow mapping in line 2, column 11\n"
                + "did not find expected ',' or '}':\nmetadata: {name: a\n^"),
        Bad("a syntax error after a good document (never dropped quietly)", "kind: Namespace\nmetadata: {name: a}\n---\nkind: [Namespace\n",
            "mesh.yaml: not valid YAML or JSON: 5:1: error: parser: while parsing a flow sequence in line 4, column 7\n"
                + "did not find expected ',' or ']':\nkind: [Namespace\n^"),
        Bad("JSON that does not parse", "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}",
            "mesh.yaml: not valid YAML or JSON: 2:1: error: parser: while parsing a flow mapping in line 1, column 1\n"
                + "did not find expected ',' or '}':\n{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}\n^"),
        Bad("a billion laughs", billionLaughs,
            "mesh.yaml, document 1: the document expands to more than 100000 values (YAML aliases?); split it or write it out without anchors"),
        Bad("one resource twice", "kind: Namespace\nmetadata: {name: a}\n---\nkind: Namespace\nmetadata: {name: a}",
            "Namespace a: metadata.name: defined twice"),
        Bad("two workloads with one address", workload + ok + "\n---\nkind: Workload\nmetadata: {name: api, namespace: shop}\nspec: " + ok,
            "Workload shop/api: spec.addresses: 10.0.0.1 is already the address of workload shop/web"),
        Bad("a service VIP that is a workload address", workload + ok + "\n---\n" + service + "{addresses: [10.0.0.1], ports: [{port: 80}]}",
            "Service shop/web: spec.addresses: 10.0.0.1 is already in use"),
    ]

    /// Nine levels of nine aliases: 9^9 (387 million) values from a dozen lines.
    static let billionLaughs: String = {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        return lines.joined(separator: "\n")
    }()

    @Test("a bad document is refused with its file, document, resource, field and reason", arguments: badDocuments)
    func refused(_ bad: Bad) {
        #expect(throws: ResourceError.self) {
            do {
                _ = try MeshSnapshot(ResourceDecoder.decodeFile(bad.text, file: "mesh.yaml"))
            } catch {
                #expect("\(error)" == bad.message)
                throw error
            }
        }
    }

    @Test("a billion laughs is refused in well under a second")
    func billionLaughsIsQuick() {
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = try? ConfigParser.documents(Self.billionLaughs, file: "bomb.yaml") }
        #expect(elapsed < .seconds(1))
    }
}

extension Array where Element == String {
    /// `ResourceDecoder.kinds` in the order the sample file lists them (MeshConfig first).
    fileprivate var rotatedToMeshConfigFirst: [String] { ["MeshConfig"] + filter { $0 != "MeshConfig" } }
}
