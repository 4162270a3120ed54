import AmbitCore

/// The demo's summary as a person reads it.
public enum TunnelDemoReportText {
    public static func render(_ r: TunnelDemo.Report) -> String {
        let mib = Double(r.bytes) / 1_048_576
        func mark(_ ok: Bool) -> String { ok ? "ok" : "MISMATCH" }
        return """
            Ambit tunnel demo: one TCP connection through HBONE (HTTP/2 CONNECT over mutual TLS 1.3)

              mesh CA                        \(r.caDirectory)
              client workload                \(r.clientIdentity)
              server workload                \(r.serverIdentity)  (HBONE on \(r.serverAddress))

              server verified the client as  \(r.clientAsSeenByServer.map { "\($0)" } ?? "nobody")  [\(mark(r.clientAsSeenByServer == r.clientIdentity))]
              client verified the server as  \(r.serverAsSeenByClient.map { "\($0)" } ?? "nobody")  [\(mark(r.serverAsSeenByClient == r.serverIdentity))]
              bytes moved                    \(r.bytes) (\(fixed(mib, 1)) MiB), SHA-256 at the destination [\(mark(r.digestMatches))]
              throughput                     \(fixed(r.throughputMiBps, 1)) MiB/s in \(fixed(r.seconds, 2)) s

            Next: docs/tunnel.md explains the tunnel; scripts/bench-tunnel.sh compares it with Envoy.
            """
    }
}
