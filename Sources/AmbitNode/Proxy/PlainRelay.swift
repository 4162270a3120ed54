import AmbitCore
import AmbitTunnel
import NIOCore

extension PodProxy {
    /// The end of both plain paths (passthrough out, plaintext in): dial `address` from
    /// inside the pod, relay bytes both ways, and report the connection when it ends. A
    /// failed dial resets the captured connection, as the destination itself would have.
    func relayPlain(
        _ inbound: Channel, to address: SocketAddress, direction: ConnectionTable.Direction, mode: String,
        authorization: AuthorizationEvaluator.Connection?, report: ConnectionReport, started: Double
    ) {
        var report = report
        context.telemetry.connectionOpened(report)
        network.dial(address, on: inbound.eventLoop).whenComplete { result in
            switch result {
            case .failure(let error):
                report.responseFlag = "ConnectionFailure"
                report.reason = "\(error)"
                report.durationSeconds = self.context.clock.now() - started
                self.context.telemetry.connectionClosed(report)
                inbound.reset()
            case .success(let upstream):
                self.connections.add(
                    direction: direction, mode: mode, source: report.sourceAddress ?? "-", destination: address.hostPort,
                    peerIdentity: nil, authorization: authorization, channel: inbound, now: started)
                TCPRelay.join(inbound, upstream).whenComplete { result in
                    if case .success(let stats) = result {
                        report.bytesFromSource = stats.bytesFromFirst
                        report.bytesToSource = stats.bytesFromSecond
                        report.reason = stats.failure
                        if stats.failure != nil { report.responseFlag = "ConnectionTermination" }
                    }
                    report.durationSeconds = self.context.clock.now() - started
                    self.context.telemetry.connectionClosed(report)
                }
            }
        }
    }
}
