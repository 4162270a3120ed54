import AmbitCore
import AmbitDNS
import AmbitRedirect
import NIOCore

/// The pod's DNS listener (15053, where the pod's rules send UDP and TCP port 53): mesh
/// service names are answered from the current snapshot; everything else goes to the
/// pod's own resolvers over sockets made in the pod's namespace, with the daemon's mark so
/// the query is not captured again.
extension PodProxy {
    func startDNS(udp: NIOBSDSocket.Handle, tcp: NIOBSDSocket.Handle) async throws -> @Sendable () async -> Void {
        let snapshot = context.snapshot
        let me = workload(in: snapshot)
        let upstreams = (me?.dnsServers.isEmpty == false ? me!.dnsServers : context.defaultResolvers)
            .compactMap { try? SocketAddress(ipAddress: $0.description, port: 53) }
        let namespaceName = me?.metadata.namespace ?? "default"
        let names = context.dnsTable
        var configuration = DNSServer.Configuration(namespace: namespaceName, upstreams: upstreams) {
            names.withLockedValue { $0 }
        }
        let executor = context.executor
        let ns = namespace
        let mark = context.rules.mark
        let network = self.network
        let group = context.group
        configuration.udpSocketFactory = { _ in
            // Called from a task, not an event loop: waiting for the namespace thread is
            // a few microseconds.
            try executor.run(in: ns, on: group.any()) { try NamespaceSockets.udpSocket(port: 0, mark: mark) }.wait()
        }
        configuration.tcpSocketFactory = { upstream in
            try await network.connectedSocket(to: upstream, timeout: .seconds(2), on: group.any()).get()
        }
        let server = try await DNSServer.start(configuration, udpSocket: udp, tcpSocket: tcp, group: context.group, logger: context.logger)
        return { await server.close() }
    }
}

extension MeshSnapshot {
    /// The DNS view of the mesh: every service hostname with its VIPs.
    func dnsTable() -> MeshNameTable {
        var entries: [MeshNameTable.Entry] = []
        for (hostname, addresses) in serviceHostnames() {
            let mesh = addresses.compactMap { try? MeshAddress(bytes: $0.bytes) }
            entries.append(MeshNameTable.Entry(hostname: hostname, addresses: mesh))
        }
        return (try? MeshNameTable(entries: entries, clusterDomain: mesh.clusterDomain)) ?? MeshNameTable(clusterDomain: mesh.clusterDomain)
    }
}
