extension Topology {
    /// A pod: a network namespace whose `eth0` is a veth to its node, with one /32 address
    /// and a default route through the node's link-local gateway.
    public final class Pod: Sendable, CustomStringConvertible {
        /// The link-local address every pod uses as its gateway; the node answers it on each
        /// pod veth (Calico's scheme: no per-node gateway address to allocate).
        public static let gateway = "169.254.1.1"

        public let name: String
        /// Kubernetes namespace.
        public let namespace: String
        public let serviceAccount: String
        public let labels: [String: String]
        /// The pod's address, e.g. "10.244.1.1".
        public let ip: String
        public let netnsName: String
        public var netnsPath: String { "\(TopologyNames.netnsDirectory)/\(netnsName)" }
        /// The pod's interface, inside the pod.
        public let interface = "eth0"
        /// The node's end of the pod's veth, inside the node: capture here to see what the
        /// pod sends and receives, as the node sees it.
        public let nodeInterface: String
        public let node: Node
        let context: TopologyContext

        public var description: String { "pod \(namespace)/\(name) (\(ip) on \(node.name), netns \(netnsName))" }

        init(
            name: String, namespace: String, serviceAccount: String, labels: [String: String],
            ip: String, netnsName: String, nodeInterface: String, node: Node
        ) {
            self.name = name
            self.namespace = namespace
            self.serviceAccount = serviceAccount
            self.labels = labels
            self.ip = ip
            self.netnsName = netnsName
            self.nodeInterface = nodeInterface
            self.node = node
            self.context = node.context
        }

        func build() async throws {
            let nodeNetns = node.netnsName
            try await context.createNamespace(netnsName)
            try await context.setSysctls(Topology.linkDefaults, in: netnsName)
            try await context.ip("-n", nodeNetns, "link", "add", nodeInterface, "type", "veth", "peer", "name", interface, "netns", netnsName)
            // Pod side: a /32 and nothing else on-link, so every packet, even to a pod on
            // the same node, goes through the node (where the mesh will intercept it).
            try await context.ip("-n", netnsName, "addr", "add", "\(ip)/32", "dev", interface)
            try await context.ip("-n", netnsName, "link", "set", interface, "up")
            try await context.ip("-n", netnsName, "route", "add", Self.gateway, "dev", interface, "scope", "link")
            try await context.ip("-n", netnsName, "route", "add", "default", "via", Self.gateway, "dev", interface)
            // Node side: own the gateway address on this veth (so it answers the pod's ARP)
            // and route the pod's /32 to it.
            try await context.ip("-n", nodeNetns, "addr", "add", "\(Self.gateway)/32", "dev", nodeInterface)
            try await context.ip("-n", nodeNetns, "link", "set", nodeInterface, "up")
            try await context.ip("-n", nodeNetns, "route", "add", "\(ip)/32", "dev", nodeInterface)
        }

        // MARK: - Running things in the pod

        /// Runs `command` inside the pod's namespace and waits for it.
        public func run(_ command: [String], timeout: Double = 30) async throws -> CommandResult {
            try await context.run(command, in: netnsName, timeout: timeout)
        }

        /// Starts a long-running `command` inside the pod's namespace; teardown kills it.
        public func spawn(_ command: [String], environment: [String: String] = [:]) throws -> TestProcess {
            try context.spawn(command, in: netnsName, environment: environment)
        }

        /// Starts tcpdump on `interface` (default: `eth0`) inside the pod.
        public func capture(interface: String? = nil, filter: [String] = []) async throws -> Capture {
            try await Capture.start(interface: interface ?? self.interface, filter: filter, in: netnsName, context: context)
        }
    }
}
