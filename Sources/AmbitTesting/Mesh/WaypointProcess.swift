import AmbitRedirect
import Foundation
import NIOCore

/// One running `ambit waypoint`, seen from a test: its access log and its HTTP endpoints.
/// It runs inside its own pod's namespace, as a waypoint pod would.
public final class WaypointProcess: MeshProcess {
    public let pod: Topology.Pod
    public let process: TestProcess
    let context: TopologyContext

    init(pod: Topology.Pod, process: TestProcess, context: TopologyContext) {
        self.pod = pod
        self.process = process
        self.context = context
    }

    public func get(_ path: String, port: Int) async throws -> String {
        try await MeshHTTPProbe.get(path, port: port, netnsPath: pod.netnsPath, context: context)
    }

    /// The metrics, parsed.
    public func metricSamples() async throws -> PrometheusSamples { PrometheusSamples(try await metrics()) }
}

extension MeshHarness {
    /// The Gateway a waypoint serves, as users declare it.
    public static func waypointGateway(name: String, namespace: String) -> String {
        """
        kind: Gateway
        metadata: {name: \(name), namespace: \(namespace)}
        spec: {gatewayClassName: ambit-waypoint}
        """
    }

    /// Starts `ambit waypoint` inside `pod` (which should carry the
    /// `gateway.networking.k8s.io/gateway-name` label: nodes find the waypoint by it and
    /// never enrol such a pod) and waits until it is ready.
    @discardableResult
    /// `extraArguments` adds `ambit waypoint` flags (tracing, threads).
    public func startWaypoint(
        in pod: Topology.Pod, name: String, drainSeconds: Double = 1, extraArguments: [String] = []
    ) async throws -> WaypointProcess {
        let binary = try Self.ambitBinary()
        let process = try pod.spawn([
            binary, "waypoint", "--config", configPath, "--namespace", pod.namespace, "--name", name, "--ca-dir", caDirectory,
            "--state-dir", directory + "/state-waypoint-\(pod.name)", "--access-log", "json",
            "--drain-seconds", String(drainSeconds), "--log-level", "info",
        ] + extraArguments)
        let waypoint = WaypointProcess(pod: pod, process: process, context: pod.context)
        try await waitUntil("the waypoint \(pod.key) is ready", timeoutSeconds: 20) {
            guard process.isRunning else { throw TestFailure("ambit waypoint in \(pod.key) exited: \(process.output)") }
            return (try? await waypoint.get("/healthz/ready", port: 15021))?.hasPrefix("ready") == true
        }
        return waypoint
    }
}
