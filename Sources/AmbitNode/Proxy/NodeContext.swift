import AmbitCore
import AmbitDNS
import AmbitRedirect
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every pod's proxy shares: the current mesh view and the node-wide services. Each
/// proxy gets only this, not the daemon (no enrolment or CA access from the data path).
final class NodeContext: Sendable {
    let nodeName: String
    let snapshotBox: NIOLockedValueBox<MeshSnapshot>
    let telemetry: NodeTelemetry
    let identity: NodeIdentity
    let executor: NamespaceExecutor
    let rules: InPodRules
    let roundRobin = RoundRobin()
    let clock: any WallClock
    let logger: Logger
    let group: any EventLoopGroup
    /// Mesh names for the pods' DNS, rebuilt when the snapshot changes.
    let dnsTable: NIOLockedValueBox<MeshNameTable>
    /// Where a pod's non-mesh DNS goes when its workload names no resolvers.
    let defaultResolvers: [IPAddress]

    init(
        nodeName: String, snapshot: MeshSnapshot, telemetry: NodeTelemetry, identity: NodeIdentity,
        executor: NamespaceExecutor, rules: InPodRules, clock: any WallClock, logger: Logger, group: any EventLoopGroup,
        defaultResolvers: [IPAddress]
    ) {
        self.dnsTable = NIOLockedValueBox(snapshot.dnsTable())
        self.defaultResolvers = defaultResolvers
        self.nodeName = nodeName
        self.snapshotBox = NIOLockedValueBox(snapshot)
        self.telemetry = telemetry
        self.identity = identity
        self.executor = executor
        self.rules = rules
        self.clock = clock
        self.logger = logger
        self.group = group
    }

    var snapshot: MeshSnapshot { snapshotBox.withLockedValue { $0 } }

    func update(_ snapshot: MeshSnapshot) {
        let table = snapshot.dnsTable()
        snapshotBox.withLockedValue { $0 = snapshot }
        dnsTable.withLockedValue { $0 = table }
    }
}

extension IPAddress {
    init?(_ address: SocketAddress?) {
        guard let text = address?.ipAddress else { return nil }
        self.init(text)
    }
}

extension SocketAddress {
    var hostPort: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return self.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
