import AmbitCore
import AmbitRedirect
import AmbitTunnel
import NIOCore

/// The 15001 path: a connection the pod's app opened, captured by nftables.
///
/// The source is the pod whose listener accepted it — never the source IP, which an app
/// can forge. Where it goes is `OutboundRoute`'s decision.
extension PodProxy {
    func handleOutbound(_ inbound: Channel) {
        let started = context.clock.now()
        OriginalDestination.of(inbound).whenComplete { result in
            let snapshot = self.context.snapshot
            guard let me = self.workload(in: snapshot), let myIdentity = snapshot.identity(of: me) else {
                inbound.reset()
                return
            }
            var report = ConnectionReport(
                reporter: "source", mode: "passthrough", sourceWorkload: me, sourcePrincipal: myIdentity,
                sourceAddress: inbound.remoteAddress?.hostPort, destinationAddress: "-")
            let destination: SocketAddress
            switch result {
            case .success(let d): destination = d
            case .failure(let error):
                report.responseFlag = "ConnectionFailure"
                report.reason = "\(error)"
                self.context.telemetry.connectionClosed(report)
                inbound.reset()
                return
            }
            report.destinationAddress = destination.hostPort
            guard let ip = IPAddress(destination), let port = destination.port else {
                inbound.reset()
                return
            }
            let route = OutboundRoute.decide(ip: ip, port: port, snapshot: snapshot) { key, count in
                self.context.roundRobin.next(key, count)
            }
            switch route {
            case .refuse(let reason):
                report.responseFlag = "NoHealthyUpstream"
                report.reason = reason
                report.destinationService = snapshot.service(at: ip).map { $0.hostname(clusterDomain: snapshot.mesh.clusterDomain) }
                self.context.telemetry.connectionClosed(report)
                inbound.reset()
            case .passthrough(let ip, let port):
                self.passthrough(inbound, to: ip, port: port, report: report, started: started)
            case .tunnel(let tunnel):
                report.mode = "hbone"
                report.destinationWorkload = tunnel.destinationWorkload
                report.destinationPrincipal = tunnel.expected
                report.destinationService = tunnel.service.map { $0.hostname(clusterDomain: snapshot.mesh.clusterDomain) }
                report.destinationAddress = tunnel.authority.description
                self.tunnel(inbound, via: tunnel, from: me, as: myIdentity, report: report, started: started)
            }
        }
    }

    private func passthrough(_ inbound: Channel, to ip: IPAddress, port: Int, report: ConnectionReport, started: Double) {
        guard let address = try? SocketAddress(ipAddress: ip.description, port: port) else { return inbound.reset() }
        relayPlain(inbound, to: address, direction: .outbound, mode: "passthrough", authorization: nil, report: report, started: started)
    }

    private func tunnel(
        _ inbound: Channel, via route: OutboundRoute.Tunnel, from me: Workload, as identity: SpiffeID,
        report: ConnectionReport, started: Double
    ) {
        var report = report
        guard let address = try? SocketAddress(ipAddress: route.address.description, port: OutboundRoute.hbonePort) else {
            return inbound.reset()
        }
        let head = ConnectHead(
            authority: route.authority, sourceAddress: inbound.remoteAddress?.hostPort, baggage: Self.baggage(for: me))
        context.telemetry.connectionOpened(report)
        client.open(from: identity, to: address, expecting: [route.expected], head: head, on: inbound.eventLoop)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    let tunnelError = error as? TunnelError
                    switch tunnelError?.code {
                    case .some(.denied): report.responseFlag = "AuthorizationPolicyDenied"
                    case .some(.tlsFailed): report.responseFlag = "TlsFailure"
                    default: report.responseFlag = "ConnectionFailure"
                    }
                    report.reason = tunnelError?.message ?? "\(error)"
                    report.durationSeconds = self.context.clock.now() - started
                    self.context.telemetry.connectionClosed(report)
                    let reason = report.reason ?? ""
                    self.context.logger.info(
                        "outbound tunnel refused", metadata: ["source": "\(identity)", "destination": "\(route.authority)", "error": "\(reason)"])
                    inbound.reset()
                case .success(let stream):
                    self.connections.add(
                        direction: .outbound, mode: "hbone", source: report.sourceAddress ?? "-",
                        destination: route.authority.description, peerIdentity: stream.peer, authorization: nil,
                        channel: inbound, now: started)
                    stream.glue(to: inbound).whenComplete { result in
                        if case .success(let stats) = result {
                            report.bytesFromSource = stats.bytesFromSource
                            report.bytesToSource = stats.bytesToSource
                            report.reason = stats.failure
                            if stats.failure != nil { report.responseFlag = "ConnectionTermination" }
                        }
                        report.durationSeconds = self.context.clock.now() - started
                        self.context.telemetry.connectionClosed(report)
                    }
                }
            }
    }

    /// W3C baggage naming the source workload, as Istio's ztunnel sends it.
    static func baggage(for w: Workload) -> String {
        var parts = ["k8s.namespace.name=\(w.metadata.namespace)", "k8s.pod.name=\(w.metadata.name)"]
        if let app = w.metadata.labels["app"] { parts.append("service.name=\(app)") }
        if let version = w.metadata.labels["version"] { parts.append("service.version=\(version)") }
        return parts.joined(separator: ",")
    }
}
