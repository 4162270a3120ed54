import AmbitCore
import AmbitTesting
import Foundation
import Testing

/// The one topology every waypoint behaviour test shares (building it, with ten testapp
/// backends, two node daemons and a waypoint, costs seconds; the tests then cost only
/// their requests):
///
///     node1: client ──▶ (node1 daemon) ──HBONE──▶ waypoint pod
///     node2: v1, v2, v3 (app: web), each running ambit-testapp instances
///
/// Every behaviour has a Service of its own (its own VIP, routes and DestinationRule), so
/// the tests do not disturb each other's counters or ejections and the mesh config is
/// written once, before the waypoint starts: no test waits for a reload.
final class WaypointBed: Sendable {
    @TaskLocal static var current: WaypointBed?

    let topology: Topology
    let mesh: MeshHarness
    let client: Topology.Pod
    let waypoint: WaypointProcess
    /// The plain instance (port 8080, gRPC 9090 on v1) of each backend pod, by version.
    let apps: [String: TestAppProcess]
    /// v1's instance on 8081 that fails every other request (500, `--fail-mode spread`).
    let flaky: TestAppProcess
    /// The instances on 8082 (outlier detection); v1's answers 500 to everything.
    let outlier: [String: TestAppProcess]
    /// The instances on 8083 (least request); v1's answers after 100 ms.
    let least: [String: TestAppProcess]
    /// v3's instance on 8084, which only the WebSocket test uses.
    let webSocket: TestAppProcess
    /// Where the waypoint exports spans, or why it cannot.
    let traces: Result<OTLPReceiver, TestFailure>

    /// Service VIPs (port 80 unless noted).
    enum VIP {
        static let web = "10.96.0.10"
        static let flaky = "10.96.0.13"
        static let strict = "10.96.0.14"
        static let slow = "10.96.0.15"
        static let pool = "10.96.0.16"
        static let outlier = "10.96.0.17"
        static let roundRobin = "10.96.0.18"
        static let hash = "10.96.0.19"
        static let least = "10.96.0.20"
        static let random = "10.96.0.21"
        /// Port 9090, appProtocol grpc.
        static let grpc = "10.96.0.22"
        static let ws = "10.96.0.23"
        static let secure = "10.96.0.24"
        static let traced = "10.96.0.25"
    }

    private init(
        topology: Topology, mesh: MeshHarness, client: Topology.Pod, waypoint: WaypointProcess, apps: [String: TestAppProcess],
        flaky: TestAppProcess, outlier: [String: TestAppProcess], least: [String: TestAppProcess], webSocket: TestAppProcess,
        traces: Result<OTLPReceiver, TestFailure>
    ) {
        self.topology = topology
        self.mesh = mesh
        self.client = client
        self.waypoint = waypoint
        self.apps = apps
        self.flaky = flaky
        self.outlier = outlier
        self.least = least
        self.webSocket = webSocket
        self.traces = traces
    }

    static func build(_ topology: Topology) async throws -> WaypointBed {
        let node1 = try await topology.addNode("node1")
        let node2 = try await topology.addNode("node2")
        let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
        let waypointPod = try await node1.addPod(
            "waypoint", namespace: "ns1", serviceAccount: "waypoint",
            labels: [MeshLabels.gatewayName: "waypoint", MeshLabels.dataplaneMode: MeshLabels.none])
        var pods: [String: Topology.Pod] = [:]
        for version in ["v1", "v2", "v3"] {
            pods[version] = try await node2.addPod(version, namespace: "ns1", serviceAccount: "web", labels: ["app": "web", "version": version])
        }

        let mesh = try await MeshHarness(topology)
        mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
        mesh.label(namespace: "ns1", MeshLabels.useWaypoint, "waypoint")
        mesh.add(MeshHarness.waypointGateway(name: "waypoint", namespace: "ns1"))
        for document in config { mesh.add(document) }
        try mesh.apply()
        _ = try await mesh.startDaemon(on: node1)
        _ = try await mesh.startDaemon(on: node2)

        // Backends: started while the daemons enrol (they listen inside their pods; the
        // node's inbound capture finds them by address and port).
        var apps: [String: TestAppProcess] = [:]
        var outlier: [String: TestAppProcess] = [:]
        var least: [String: TestAppProcess] = [:]
        for (version, pod) in pods.sorted(by: { $0.key < $1.key }) {
            apps[version] = try await pod.startTestApp(port: 8080, name: version, version: version, grpcPort: version == "v1" ? 9090 : nil)
            outlier[version] = try await pod.startTestApp(
                port: 8082, name: "\(version)-outlier", version: version, arguments: version == "v1" ? ["--fail-percent", "100"] : [])
            least[version] = try await pod.startTestApp(
                port: 8083, name: "\(version)-least", version: version, arguments: version == "v1" ? ["--delay", "100"] : [])
        }
        let flaky = try await pods["v1"]!.startTestApp(
            port: 8081, name: "v1-flaky", version: "v1", arguments: ["--fail-percent", "50", "--fail-mode", "spread"])
        // ambit-testapp (NIO's upgrader) accepts an Upgrade only as the first request of a
        // connection; an instance of its own keeps the waypoint's pooled keep-alive
        // connections (opened by other tests) out of the WebSocket test's way.
        let webSocket = try await pods["v3"]!.startTestApp(port: 8084, name: "v3-ws", version: "v3")
        for pod in [client] + pods.values { try await mesh.waitUntilEnrolled(pod) }

        // Tracing: a real OTLP receiver on the waypoint pod's loopback. Started before the
        // waypoint, which needs its address; a missing Python venv fails only the trace test.
        let traces: Result<OTLPReceiver, TestFailure>
        var tracingArguments: [String] = []
        do {
            let receiver = try await OTLPReceiver.start(netns: waypointPod.netnsName)
            // Rate 0: only a request whose caller already decided to sample is traced, which
            // is also what proves the waypoint respects an upstream sampling decision. (At
            // 100 %, the thousands of requests of the other tests fill the exporter's queue
            // and the traced request's span can be dropped.)
            tracingArguments = ["--otlp-endpoint", receiver.endpoint, "--trace-sample-percent", "0"]
            traces = .success(receiver)
        } catch {
            traces = .failure(error as? TestFailure ?? TestFailure("\(error)"))
        }

        let waypoint: WaypointProcess
        do {
            waypoint = try await mesh.startWaypoint(in: waypointPod, name: "waypoint", extraArguments: tracingArguments)
        } catch {
            if case .success(let receiver) = traces { await receiver.stop() }
            throw error
        }
        return WaypointBed(
            topology: topology, mesh: mesh, client: client, waypoint: waypoint, apps: apps, flaky: flaky,
            outlier: outlier, least: least, webSocket: webSocket, traces: traces)
    }

    func stop() async {
        if case .success(let receiver) = traces { await receiver.stop() }
    }

    /// `http://VIP:port/path`
    static func url(_ vip: String, _ path: String, port: Int = 80) -> String { "http://\(vip):\(port)\(path)" }

    // MARK: - The mesh

    static func service(_ name: String, vip: String, selector: String, port: Int = 80, targetPort: Int, appProtocol: String = "http") -> String {
        """
        kind: Service
        metadata: {name: \(name), namespace: ns1}
        spec:
          selector: \(selector)
          addresses: [\(vip)]
          ports: [{name: \(appProtocol), port: \(port), targetPort: \(targetPort), appProtocol: \(appProtocol)}]
        """
    }

    static func destinationRule(_ host: String, _ trafficPolicy: String) -> String {
        """
        kind: DestinationRule
        metadata: {name: \(host), namespace: ns1}
        spec:
          host: \(host)
          trafficPolicy: \(trafficPolicy)
        """
    }

    static let config: [String] = [
        // 1, 2: canary and A/B on `web`, through two version services.
        service("web", vip: VIP.web, selector: "{app: web}", targetPort: 8080),
        service("web-v1", vip: "10.96.0.11", selector: "{app: web, version: v1}", targetPort: 8080),
        service("web-v2", vip: "10.96.0.12", selector: "{app: web, version: v2}", targetPort: 8080),
        """
        kind: HTTPRoute
        metadata: {name: web, namespace: ns1}
        spec:
          parentRefs: [{kind: Service, name: web, port: 80}]
          rules:
          - matches: [{headers: [{name: x-ab, value: beta}]}]
            backendRefs: [{name: web-v2, port: 80}]
          - backendRefs:
            - {name: web-v1, port: 80, weight: 90}
            - {name: web-v2, port: 80, weight: 10}
        """,
        // 3, 4: retries on 500 for everything but POSTs (a rule without `retry`); `strict`
        // has no route at all.
        service("flaky", vip: VIP.flaky, selector: "{version: v1}", targetPort: 8081),
        """
        kind: HTTPRoute
        metadata: {name: flaky, namespace: ns1}
        spec:
          parentRefs: [{kind: Service, name: flaky, port: 80}]
          rules:
          - matches: [{method: POST}]
            backendRefs: [{name: flaky, port: 80}]
          - backendRefs: [{name: flaky, port: 80}]
            retry: {codes: [500], attempts: 3, backoff: 10ms}
        """,
        service("strict", vip: VIP.strict, selector: "{version: v2}", targetPort: 8080),
        // 5: timeouts, per path.
        service("slow", vip: VIP.slow, selector: "{version: v2}", targetPort: 8080),
        """
        kind: HTTPRoute
        metadata: {name: slow, namespace: ns1}
        spec:
          parentRefs: [{kind: Service, name: slow, port: 80}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /per-try}}]
            backendRefs: [{name: slow, port: 80}]
            timeouts: {request: 5s, backendRequest: 200ms}
          - matches: [{path: {type: PathPrefix, value: /overall}}]
            backendRefs: [{name: slow, port: 80}]
            timeouts: {request: 400ms}
          - matches: [{path: {type: PathPrefix, value: /retried}}]
            backendRefs: [{name: slow, port: 80}]
            timeouts: {request: 700ms, backendRequest: 150ms}
            retry: {codes: [504], attempts: 10, backoff: 10ms}
        """,
        // 6: one request at a time to the host, one waiting.
        service("pool", vip: VIP.pool, selector: "{version: v3}", targetPort: 8080),
        destinationRule("pool", "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}}}"),
        // 7: three 500s in a row eject a host for 2 s (× its ejection count).
        service("outlier", vip: VIP.outlier, selector: "{app: web}", targetPort: 8082),
        destinationRule(
            "outlier",
            "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 3, interval: 200ms, baseEjectionTime: 2s, maxEjectionPercent: 50}}"),
        // 8: one service per balancer over the same three pods.
        service("lb-rr", vip: VIP.roundRobin, selector: "{app: web}", targetPort: 8080),
        destinationRule("lb-rr", "{loadBalancer: {simple: ROUND_ROBIN}}"),
        service("lb-hash", vip: VIP.hash, selector: "{app: web}", targetPort: 8080),
        destinationRule("lb-hash", "{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}"),
        service("lb-least", vip: VIP.least, selector: "{app: web}", targetPort: 8083),
        destinationRule("lb-least", "{loadBalancer: {simple: LEAST_REQUEST}}"),
        service("lb-random", vip: VIP.random, selector: "{app: web}", targetPort: 8080),
        destinationRule("lb-random", "{loadBalancer: {simple: RANDOM}}"),
        // 9, 10: gRPC and WebSocket.
        service("grpc", vip: VIP.grpc, selector: "{version: v1}", port: 9090, targetPort: 9090, appProtocol: "grpc"),
        service("ws", vip: VIP.ws, selector: "{version: v3}", targetPort: 8084),
        // 11: L7 deny, on the Service and on the whole waypoint.
        service("secure", vip: VIP.secure, selector: "{version: v2}", targetPort: 8080),
        """
        kind: AuthorizationPolicy
        metadata: {name: secure-deny, namespace: ns1}
        spec:
          targetRefs: [{kind: Service, group: "", name: secure}]
          action: DENY
          rules:
          - to: [{operation: {paths: ["/admin/*"]}}]
          - to: [{operation: {methods: [DELETE]}}]
        """,
        """
        kind: AuthorizationPolicy
        metadata: {name: waypoint-deny, namespace: ns1}
        spec:
          targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
          action: DENY
          rules:
          - to: [{operation: {paths: ["/denied-everywhere"]}}]
        """,
        // 12: tracing.
        service("traced", vip: VIP.traced, selector: "{version: v3}", targetPort: 8080),
    ]
}

/// Builds the shared bed once for the suite it is attached to, and tears it down after
/// the suite's last test: namespaces, links, processes, the OTLP receiver.
struct WaypointBedTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTopology { topology in
            let bed = try await WaypointBed.build(topology)
            do {
                try await WaypointBed.$current.withValue(bed) { try await function() }
            } catch {
                await bed.stop()
                throw error
            }
            await bed.stop()
        }
    }
}

extension Trait where Self == WaypointBedTrait {
    static var waypointBed: Self { WaypointBedTrait() }
}
