import AmbitCore
import AmbitIdentity
import AmbitRedirect
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// A mesh on top of a `Topology`: a CA, the config file every node daemon watches, and
/// the `ambit node` processes themselves (real binaries, one inside each node's namespace).
///
/// Tests describe the mesh the way users do, by labels and resources, and read what the
/// daemons report through their access logs and admin endpoints:
///
///     let mesh = try await MeshHarness(topology)
///     mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
///     try mesh.apply()
///     let daemon = try await mesh.startDaemon(on: node1)
///     try await mesh.waitUntilEnrolled(client)
public final class MeshHarness: Sendable {
    public let topology: Topology
    public let directory: String
    public let configPath: String
    public let caDirectory: String
    public let trustDomain = "cluster.local"

    private struct Desired {
        var namespaceLabels: [String: [String: String]] = [:]
        var podLabels: [String: [String: String]] = [:]
        var removedPods: Set<String> = []
        var extra: [String] = []
    }
    private let desired = NIOLockedValueBox(Desired())

    public init(_ topology: Topology) async throws {
        self.topology = topology
        directory = NSTemporaryDirectory() + "ambit-mesh-\(topology.prefix.dropLast())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configPath = directory + "/mesh.yaml"
        caDirectory = directory + "/ca"
        _ = try CertificateAuthority.loadOrCreate(directory: caDirectory, trustDomain: trustDomain)
    }

    // MARK: - Describing the mesh

    public func label(namespace: String, _ key: String, _ value: String?) {
        desired.withLockedValue { $0.namespaceLabels[namespace, default: [:]][key] = value }
    }

    /// Sets (or with nil removes) one label on a pod's Workload.
    public func label(_ pod: Topology.Pod, _ key: String, _ value: String?) {
        desired.withLockedValue { d in
            var labels = d.podLabels[pod.key] ?? pod.labels
            labels[key] = value
            d.podLabels[pod.key] = labels
        }
    }

    /// Drops the pod's Workload from the config, as if the pod were deleted.
    public func remove(_ pod: Topology.Pod) {
        desired.withLockedValue { _ = $0.removedPods.insert(pod.key) }
    }

    /// Adds YAML documents (Services, policies…) to the config.
    public func add(_ yaml: String) {
        desired.withLockedValue { $0.extra.append(yaml) }
    }

    public func removeExtra(containing text: String) {
        desired.withLockedValue { $0.extra.removeAll { $0.contains(text) } }
    }

    /// The config file's text for what has been described.
    public func configText() -> String {
        let d = desired.withLockedValue { $0 }
        var docs: [String] = [
            """
            kind: MeshConfig
            metadata: {name: mesh}
            spec:
              trustDomain: \(trustDomain)
              ca: {directory: \(caDirectory)}
            """
        ]
        let namespaces = Set(topology.pods.map(\.namespace)).union(d.namespaceLabels.keys).sorted()
        for ns in namespaces {
            docs.append("kind: Namespace\nmetadata:\n  name: \(ns)\n  labels: \(Self.flow(d.namespaceLabels[ns] ?? [:]))")
        }
        for pod in topology.pods where !d.removedPods.contains(pod.key) {
            let labels = d.podLabels[pod.key] ?? pod.labels
            docs.append(
                """
                kind: Workload
                metadata:
                  name: \(pod.name)
                  namespace: \(pod.namespace)
                  labels: \(Self.flow(labels))
                spec:
                  serviceAccount: \(pod.serviceAccount)
                  node: \(pod.node.name)
                  addresses: [\(pod.ip)]
                  netns: \(pod.netnsPath)
                """)
        }
        docs += d.extra
        return docs.joined(separator: "\n---\n") + "\n"
    }

    /// Writes the config atomically (the daemons watch it).
    public func apply() throws {
        let temporary = configPath + ".tmp"
        try configText().write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, configPath) == 0 else { throw TestFailure("cannot write \(configPath)") }
    }

    static func flow(_ labels: [String: String]) -> String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
    }

    public func identity(of pod: Topology.Pod) -> String {
        "spiffe://\(trustDomain)/ns/\(pod.namespace)/sa/\(pod.serviceAccount)"
    }

    // MARK: - Daemons

    /// The `ambit` executable next to the test bundle (built by `swift build --build-tests`).
    public static func ambitBinary() throws -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let candidate = (exe as NSString).deletingLastPathComponent + "/ambit"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestFailure("the ambit binary is not at \(candidate); build it first with `swift build --build-tests`")
        }
        return candidate
    }

    /// Starts `ambit node` inside `node`'s namespace and waits until it is ready.
    @discardableResult
    public func startDaemon(on node: Topology.Node, drainSeconds: Double = 1) async throws -> NodeDaemonProcess {
        let binary = try Self.ambitBinary()
        let process = try node.spawn([
            binary, "node", "--config", configPath, "--node", node.name, "--state-dir", directory + "/state-\(node.name)",
            "--access-log", "json", "--drain-seconds", String(drainSeconds), "--log-level", "info",
        ])
        let daemon = NodeDaemonProcess(node: node, process: process, context: node.context)
        try await waitUntil("the node daemon on \(node.name) is ready", timeoutSeconds: 20) {
            guard process.isRunning else {
                throw TestFailure("ambit node on \(node.name) exited: \(process.output)")
            }
            return (try? await daemon.get("/healthz/ready", port: 15021))?.hasPrefix("ready") == true
        }
        return daemon
    }

    /// Waits until the pod's nftables table is in place (the last step of enrolment).
    public func waitUntilEnrolled(_ pod: Topology.Pod, timeoutSeconds: Double = 10) async throws {
        try await waitUntil("\(pod.key) is enrolled", timeoutSeconds: timeoutSeconds) {
            try await pod.run(["nft", "list", "table", "inet", "ambit"]).succeeded
        }
    }

    public func waitUntilNotEnrolled(_ pod: Topology.Pod, timeoutSeconds: Double = 10) async throws {
        try await waitUntil("\(pod.key) is un-enrolled", timeoutSeconds: timeoutSeconds) {
            try await !pod.run(["nft", "list", "table", "inet", "ambit"]).succeeded
        }
    }
}

extension Topology.Pod {
    /// `namespace/name`, the workload key.
    public var key: String { "\(namespace)/\(name)" }

    /// TCP ports something listens on inside the pod (from `ss`).
    public func listeningPorts() async throws -> Set<Int> {
        let out = try await run(["ss", "-Hltn"]).stdout
        var ports: Set<Int> = []
        for line in out.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, let port = fields[3].split(separator: ":").last.flatMap({ Int($0) }) else { continue }
            ports.insert(port)
        }
        return ports
    }
}

// MARK: - With a control plane

extension MeshHarness {
    /// Starts `ambit control` inside `node`'s namespace (listening on the node's address)
    /// and waits until it answers `ambit status`.
    public func startControlPlane(on node: Topology.Node) async throws -> TestProcess {
        let binary = try Self.ambitBinary()
        let process = try node.spawn([
            binary, "control", "--data-dir", controlDirectory, "--listen", "0.0.0.0:15012", "--join-listen", "0.0.0.0:15013",
            "--advertise", "\(node.ip):15012",
        ])
        try await waitUntil("the control plane on \(node.name) answers", timeoutSeconds: 20) {
            guard process.isRunning else { throw TestFailure("ambit control exited: \(process.output)") }
            return try await node.run([binary, "status", "--ambitconfig", controlDirectory + "/admin.ambitconfig"]).succeeded
        }
        return process
    }

    public var controlDirectory: String { directory + "/control" }

    /// `ambit apply -f` of the described mesh, run next to the control plane.
    public func applyToControlPlane(from node: Topology.Node) async throws {
        try apply()
        let result = try await node.run([try Self.ambitBinary(), "apply", "-f", configPath, "--ambitconfig", controlDirectory + "/admin.ambitconfig"])
        guard result.succeeded else { throw TestFailure("ambit apply failed: \(result.stderr)") }
    }

    /// Starts `ambit node` on `node`, joined to the control plane at `control` with a fresh token.
    @discardableResult
    public func startDaemon(on node: Topology.Node, control: Topology.Node, drainSeconds: Double = 1) async throws -> NodeDaemonProcess {
        let binary = try Self.ambitBinary()
        let token = try await control.run([binary, "control", "token", "create", "--data-dir", controlDirectory, "--node", node.name])
        guard token.succeeded else { throw TestFailure("cannot create a join token: \(token.stderr)") }
        let process = try node.spawn([
            binary, "node", "--control", "\(control.ip):15012", "--join", token.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            "--trust-bundle", controlDirectory + "/ca/root-cert.pem", "--node", node.name,
            "--state-dir", directory + "/state-\(node.name)", "--access-log", "json", "--drain-seconds", String(drainSeconds),
        ])
        let daemon = NodeDaemonProcess(node: node, process: process, context: node.context)
        try await waitUntil("the node daemon on \(node.name) is ready", timeoutSeconds: 20) {
            guard process.isRunning else { throw TestFailure("ambit node on \(node.name) exited: \(process.output)") }
            return (try? await daemon.get("/healthz/ready", port: 15021))?.hasPrefix("ready") == true
        }
        return daemon
    }
}
