import AmbitAPI
import FoundationEssentials

/// `ambit status` as text: pure, so what an operator reads is tested without a control plane.
///
/// The order follows the questions asked on day two: is the control plane healthy and when
/// do its certificates run out; is every node and waypoint connected and in sync; which
/// workloads are in the mesh, with what identity, and is their certificate fresh.
enum StatusText {
    static func render(_ s: Ambit_V1_StatusResponse, server: String, now: Double) -> String {
        var out: [String] = []
        let cp = s.controlPlane
        out.append("control plane at \(server): store revision \(s.version), trust domain \(cp.trustDomain)")
        if !cp.servingIdentity.isEmpty {
            out.append("  serving certificate \(cp.servingIdentity) \(expiry(cp.servingNotAfterUnix, now: now)) (renewed at half life)")
        }
        for root in cp.roots {
            out.append("  root \(root.subject) \(expiry(root.notAfterUnix, now: now))")
        }
        out.append("resources: " + s.resourceCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))

        out.append("")
        if s.nodes.isEmpty { out.append("nodes: none connected yet") }
        for node in s.nodes.sorted(by: { $0.nodeID < $1.nodeID }) { out.append(streamLine(node)) }

        let certificates = newestCertificates(s.certificates)
        if !s.waypoints.isEmpty {
            out.append("")
            out.append("WAYPOINTS")
            var rows = [["NAMESPACE", "NAME", "STREAM", "SERVICES", "IDENTITY", "CERTIFICATE"]]
            for w in s.waypoints {
                let stream = s.nodes.first { $0.nodeID == "\(w.namespace)/\(w.name)" }
                let state = stream.map { $0.connected ? (inSync($0) ? "in sync" : "syncing") : "disconnected" } ?? "never connected"
                rows.append([
                    w.namespace, w.name, state, w.services.isEmpty ? "-" : w.services.joined(separator: ","), w.identity,
                    certificates[w.identity].map { expiry($0.notAfterUnix, now: now) } ?? "none issued since start",
                ])
            }
            out.append(table(rows))
        }

        out.append("")
        out.append("WORKLOADS")
        if s.workloads.isEmpty {
            out.append("none")
        } else {
            var rows = [["NAMESPACE", "NAME", "NODE", "IN MESH", "IDENTITY", "CERTIFICATE"]]
            for w in s.workloads {
                let certificate: String
                if !w.inMesh {
                    certificate = "-"
                } else if let c = certificates[w.identity] {
                    certificate = expiry(c.notAfterUnix, now: now)
                } else {
                    certificate = "none issued since start"
                }
                rows.append([w.namespace, w.name, w.node, w.inMesh ? "yes" : "no", w.identity, certificate])
            }
            out.append(table(rows))
            let outside = s.workloads.filter { !$0.inMesh }
            if !outside.isEmpty {
                out.append("not in the mesh:")
                for w in outside { out.append("  \(w.namespace)/\(w.name): \(w.reason)") }
            }
        }
        return out.joined(separator: "\n")
    }

    /// One stream's line: `node node1: connected, in sync (Workload v12, …)`. The wording is
    /// what scripts wait for, so it stays stable.
    static func streamLine(_ node: Ambit_V1_NodeStatus) -> String {
        let types = node.types
        let errors = types.filter { !$0.lastError.isEmpty }.map { "\(shortType($0.typeURL)): \($0.lastError)" }
        // Waypoints subscribe as NAMESPACE/GATEWAY, nodes by name.
        let role = node.nodeID.contains("/") ? "waypoint" : "node"
        return "\(role) \(node.nodeID): \(node.connected ? "connected" : "disconnected"), \(inSync(node) ? "in sync" : "syncing")"
            + " (\(types.map { "\(shortType($0.typeURL)) v\($0.ackedVersion)" }.joined(separator: ", ")))"
            + (errors.isEmpty ? "" : "; rejected: " + errors.joined(separator: "; "))
    }

    /// A type is only pushed when it changes, so an older acked version is current as long as
    /// nothing is awaiting an answer: in sync = every type answered and accepted, none pending.
    static func inSync(_ node: Ambit_V1_NodeStatus) -> Bool {
        !node.types.isEmpty && node.types.allSatisfy { !$0.ackedVersion.isEmpty && $0.pendingNonce.isEmpty && $0.lastError.isEmpty }
    }

    static func shortType(_ url: String) -> String { String(url.split(separator: "/").last ?? "") }

    /// The newest certificate per identity (several nodes may hold the same service account).
    static func newestCertificates(_ all: [Ambit_V1_CertificateStatus]) -> [String: Ambit_V1_CertificateStatus] {
        var out: [String: Ambit_V1_CertificateStatus] = [:]
        for c in all where (out[c.identity]?.notAfterUnix ?? .min) < c.notAfterUnix { out[c.identity] = c }
        return out
    }

    /// "expires in 23h 59m" or "EXPIRED 2h 3m ago": relative, because that is what decides
    /// whether to act, with the absolute time for the log search.
    static func expiry(_ notAfter: Int64, now: Double) -> String {
        let left = Double(notAfter) - now
        let stamp = timestamp(notAfter)
        return left > 0 ? "expires in \(duration(left)) (\(stamp))" : "EXPIRED \(duration(-left)) ago (\(stamp))"
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        let (d, h, m) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60)
        if d >= 365 { return "\(d / 365)y \(d % 365)d" }
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        return "\(m)m \(s % 60)s"
    }

    static func timestamp(_ unix: Int64) -> String {
        Date(timeIntervalSince1970: Double(unix)).formatted(.iso8601)
    }

    /// Columns padded to their widest cell, as kubectl prints them (also `ambit get`).
    static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined()
                .trimmingTrailingSpaces
        }.joined(separator: "\n")
    }
}
