import AmbitCore
import AmbitRedirect
import AmbitTunnel
import NIOCore

/// The two inbound paths of a pod.
///
/// - **HBONE (15008).** The server presents this pod's own certificate, verifies the
///   peer's, applies L4 authorization to the verified identity, and dials the app inside
///   the pod's namespace.
/// - **Plaintext (15006).** Connections from outside the mesh. Allowed only where the
///   pod's PeerAuthentication is PERMISSIVE (the default) and policy allows a source with
///   no identity.
///
/// Both register their connections with the authorization facts they were admitted on, so
/// a policy change can re-check them.
extension PodProxy {
    func bindTunnelServer(socket: NIOBSDSocket.Handle) async throws -> HBONEServer {
        var configuration = HBONEServer.Configuration(
            address: try SocketAddress(ipAddress: podAddress.description, port: context.rules.inboundTunnelPort),
            identity: target.identity)
        configuration.boundSocket = socket
        return try await HBONEServer.bind(
            configuration, group: context.group, tls: context.identity.tls, dialer: network, logger: context.logger,
            onRecord: { [weak self] record in self?.recordInbound(record) },
            onEstablished: { [weak self] request, stream in self?.trackInbound(request, stream: stream) },
            decideNow: { [weak self] request in
                guard let self else { return .unavailable(reason: "the pod is leaving the mesh") }
                return self.decideInbound(request)
            },
            decide: { [weak self] request in
                guard let self else { return .unavailable(reason: "the pod is leaving the mesh") }
                return self.decideInbound(request)
            })
    }

    /// The facts authorization decides on for a tunnelled connection. The source address
    /// is the tunnel's TCP peer: outbound tunnels leave from the source pod's own namespace,
    /// so it is the source pod's address, and unlike `forwarded` it cannot be made up.
    private func facts(_ request: ConnectRequest, ip: IPAddress) -> AuthorizationEvaluator.Connection {
        AuthorizationEvaluator.Connection(
            sourcePrincipal: request.peer, sourceIP: IPAddress(request.peerAddress), destinationIP: ip,
            destinationPort: request.authority.port)
    }

    func decideInbound(_ request: ConnectRequest) -> ConnectDecision {
        let snapshot = context.snapshot
        guard let me = workload(in: snapshot) else { return .unavailable(reason: "the pod is leaving the mesh") }
        guard let ip = IPAddress(request.authority.host), me.addresses.contains(ip) else {
            return .unavailable(reason: "\(request.authority) is not an address of \(me.metadata.key)")
        }
        guard !context.rules.reservedPorts.contains(request.authority.port) else {
            return .reject(reason: "port \(request.authority.port) belongs to the mesh, not to the app")
        }
        let decision = AuthorizationEvaluator.evaluate(snapshot.authorizationPolicies(for: me), facts(request, ip: ip))
        if case .deny(let reason) = decision { return .deny(reason: reason) }
        guard let address = try? SocketAddress(ipAddress: ip.description, port: request.authority.port) else {
            return .reject(reason: "bad address \(request.authority)")
        }
        return .forward(to: address)
    }

    private func trackInbound(_ request: ConnectRequest, stream: Channel) {
        guard let ip = IPAddress(request.authority.host) else { return }
        connections.add(
            direction: .inbound, mode: "hbone", source: request.peerAddress?.hostPort ?? "-",
            destination: request.authority.description, peerIdentity: request.peer, authorization: facts(request, ip: ip),
            channel: stream, now: context.clock.now())
    }

    private func recordInbound(_ record: StreamRecord) {
        let snapshot = context.snapshot
        var report = ConnectionReport(
            reporter: "destination", mode: "hbone", sourcePrincipal: record.peer,
            sourceAddress: record.request?.forwardedFor ?? record.request?.peerAddress?.hostPort,
            destinationAddress: record.request?.authority.description ?? "-")
        report.sourceWorkload = IPAddress(record.request?.peerAddress).flatMap { snapshot.workload(at: $0) }
        report.destinationWorkload = workload(in: snapshot)
        report.destinationPrincipal = target.identity
        report.bytesFromSource = record.bytesToDestination
        report.bytesToSource = record.bytesFromDestination
        report.durationSeconds = record.durationSeconds
        switch record.outcome {
        case .completed: break
        case .failed(let reason):
            report.responseFlag = "ConnectionTermination"
            report.reason = reason
        case .refused(let status, let reason):
            report.responseFlag = status == 401 ? "AuthorizationPolicyDenied" : "ConnectionFailure"
            report.reason = reason
        }
        context.telemetry.connectionOpened(report)
        context.telemetry.connectionClosed(report)
    }

    // MARK: - Plaintext

    func handlePlaintextInbound(_ inbound: Channel) {
        let started = context.clock.now()
        OriginalDestination.of(inbound).whenComplete { result in
            let snapshot = self.context.snapshot
            var report = ConnectionReport(
                reporter: "destination", mode: "plaintext", sourceAddress: inbound.remoteAddress?.hostPort,
                destinationAddress: "-")
            report.sourceWorkload = IPAddress(inbound.remoteAddress).flatMap { snapshot.workload(at: $0) }
            report.destinationPrincipal = self.target.identity
            func refuse(_ flag: String, _ reason: String) {
                report.responseFlag = flag
                report.reason = reason
                report.durationSeconds = self.context.clock.now() - started
                self.context.telemetry.connectionOpened(report)
                self.context.telemetry.connectionClosed(report)
                self.context.logger.info("plaintext inbound refused", metadata: ["source": "\(report.sourceAddress ?? "-")", "reason": "\(reason)"])
                inbound.reset()
            }
            guard case .success(let destination) = result, let ip = IPAddress(destination), let port = destination.port else {
                return refuse("ConnectionFailure", "no original destination")
            }
            report.destinationAddress = destination.hostPort
            guard let me = self.workload(in: snapshot) else { return refuse("ConnectionFailure", "the pod is leaving the mesh") }
            report.destinationWorkload = me
            guard !self.context.rules.reservedPorts.contains(port) else {
                return refuse("ConnectionFailure", "port \(port) belongs to the mesh, not to the app")
            }
            if snapshot.mutualTLSMode(for: me, port: port) == .strict {
                return refuse("AuthorizationPolicyDenied", "PeerAuthentication STRICT: plaintext is refused; the source must be in the mesh")
            }
            let facts = AuthorizationEvaluator.Connection(
                sourcePrincipal: nil, sourceIP: IPAddress(inbound.remoteAddress), destinationIP: ip, destinationPort: port)
            if case .deny(let reason) = AuthorizationEvaluator.evaluate(snapshot.authorizationPolicies(for: me), facts) {
                return refuse("AuthorizationPolicyDenied", reason)
            }
            self.relayPlain(
                inbound, to: destination, direction: .inbound, mode: "plaintext", authorization: facts, report: report,
                started: started)
        }
    }
}

extension PodProxy {
    /// Re-checks open inbound connections against `snapshot` and closes the ones it now
    /// denies (a new DENY policy, a removed ALLOW, STRICT mode for plaintext).
    @discardableResult
    func recheck(_ snapshot: MeshSnapshot) -> Int {
        guard let me = workload(in: snapshot) else { return 0 }
        let policies = snapshot.authorizationPolicies(for: me)
        let closed = connections.closeDenied { entry, facts in
            if entry.mode == "plaintext" && snapshot.mutualTLSMode(for: me, port: facts.destinationPort) == .strict {
                return .deny(reason: "PeerAuthentication STRICT")
            }
            return AuthorizationEvaluator.evaluate(policies, facts)
        }
        for entry in closed {
            context.logger.info(
                "closed a connection that policy now denies",
                metadata: ["source": "\(entry.peerIdentity.map { "\($0)" } ?? entry.source)", "destination": "\(entry.destination)"])
        }
        return closed.count
    }
}
