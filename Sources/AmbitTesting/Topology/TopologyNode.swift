import NIOConcurrencyHelpers

extension Topology {
    /// A node: a namespace attached to the fabric, forwarding between its pods and the
    /// other nodes. `ambit node` runs here (`spawn`), as it would in a real node's root
    /// namespace.
    public final class Node: Sendable, CustomStringConvertible {
        public let name: String
        /// 1-based position in the topology: the N of 10.250.0.N and 10.244.N.0/24.
        public let number: Int
        /// Fabric address, e.g. "10.250.0.1".
        public let ip: String
        /// The /24 its pods' addresses come from, e.g. "10.244.1.0/24".
        public let podSubnet: String
        public let netnsName: String
        public var netnsPath: String { "\(TopologyNames.netnsDirectory)/\(netnsName)" }
        /// The node's interface towards the fabric: capture here to see node-to-node traffic.
        public let fabricInterface = "fabric0"
        /// The peer of `fabricInterface`: a port of the bridge in the fabric namespace.
        public let bridgePort: String
        let fabricNetnsName: String
        let context: TopologyContext
        private let podsBox = NIOLockedValueBox<[Pod]>([])

        /// Pods in the order they were added.
        public var pods: [Pod] { podsBox.withLockedValue { $0 } }

        public var description: String { "node \(name) (\(ip), netns \(netnsName))" }

        init(name: String, number: Int, netnsName: String, fabricNetnsName: String, context: TopologyContext) {
            self.name = name
            self.number = number
            self.ip = "10.250.0.\(number)"
            self.podSubnet = "10.244.\(number).0/24"
            self.netnsName = netnsName
            self.bridgePort = "n\(number)"
            self.fabricNetnsName = fabricNetnsName
            self.context = context
        }

        func build() async throws {
            try await context.createNamespace(netnsName)
            try await context.setSysctls(Topology.linkDefaults + [("net.ipv4.ip_forward", "1")], in: netnsName)
            // Created from inside the node with the peer placed straight into the fabric:
            // nothing ever appears in the caller's namespace, so names cannot collide there.
            try await context.ip("-n", netnsName, "link", "add", fabricInterface, "type", "veth", "peer", "name", bridgePort, "netns", fabricNetnsName)
            try await context.ip("-n", fabricNetnsName, "link", "set", bridgePort, "master", Topology.bridge, "up")
            try await context.ip("-n", netnsName, "addr", "add", "\(ip)/24", "dev", fabricInterface)
            try await context.ip("-n", netnsName, "link", "set", fabricInterface, "up")
        }

        /// Routes `other`'s pod subnet through `other`'s fabric address.
        func route(to other: Node) async throws {
            try await context.ip("-n", netnsName, "route", "replace", other.podSubnet, "via", other.ip, "dev", fabricInterface)
        }

        /// Adds a pod: a namespace whose `eth0` is a veth to this node, with the next free
        /// address of the node's pod subnet. `namespace`, `serviceAccount` and `labels` are
        /// the pod's Kubernetes metadata, carried for the mesh configuration tests write.
        @discardableResult
        public func addPod(
            _ name: String, namespace: String = "default", serviceAccount: String = "default", labels: [String: String] = [:]
        ) async throws -> Pod {
            try TopologyNames.validate(name, what: "pod")
            try TopologyNames.validate(namespace, what: "Kubernetes namespace")
            let number = podsBox.withLockedValue { $0.count + 1 }
            guard number <= 254 else { throw TestFailure("node \(self.name) holds at most 254 pods") }
            // Unique per topology by Kubernetes identity (namespace/name), as pods are.
            let pod = Pod(
                name: name, namespace: namespace, serviceAccount: serviceAccount, labels: labels,
                ip: "10.244.\(self.number).\(number)", netnsName: "\(context.prefix)\(namespace).\(name)",
                nodeInterface: "pod\(number)", node: self)
            guard !context.namespaces.contains(pod.netnsName) else {
                throw TestFailure("the topology already has a pod \(namespace)/\(name)")
            }
            try podsBox.withLockedValue { pods in
                guard !pods.contains(where: { $0.ip == pod.ip }) else {
                    throw TestFailure("pods were added to \(self.name) concurrently; add pods from one task")
                }
                pods.append(pod)
            }
            try await pod.build()
            return pod
        }

        // MARK: - Running things in the node

        /// Runs `command` inside the node's namespace and waits for it.
        public func run(_ command: [String], timeout: Double = 30) async throws -> CommandResult {
            try await context.run(command, in: netnsName, timeout: timeout)
        }

        /// Starts a long-running `command` inside the node's namespace; teardown kills it.
        public func spawn(_ command: [String], environment: [String: String] = [:]) throws -> TestProcess {
            try context.spawn(command, in: netnsName, environment: environment)
        }

        /// Starts tcpdump on `interface` (default: the fabric veth) inside the node.
        public func capture(interface: String? = nil, filter: [String] = []) async throws -> Capture {
            try await Capture.start(interface: interface ?? fabricInterface, filter: filter, in: netnsName, context: context)
        }
    }
}
