import AmbitCore

/// The mesh the waypoint tests describe: namespace ns1 whose `echo` service uses the
/// waypoint `waypoint`, `other` which does not, and `echo`'s endpoints.
enum WaypointTestMesh {
    static func snapshot(endpoints: [String] = ["10.0.0.5"], targetPort: Int = 8080, appProtocol: String? = nil, extra: String = "") throws
        -> MeshSnapshot
    {
        var docs = [
            """
            kind: Namespace
            metadata: {name: ns1, labels: {ambit.dev/dataplane-mode: ambient}}
            """,
            """
            kind: Service
            metadata: {name: echo, namespace: ns1, labels: {ambit.dev/use-waypoint: waypoint}}
            spec:
              selector: {app: echo}
              addresses: [10.96.0.10]
              ports: [{port: 80, targetPort: \(targetPort)\(appProtocol.map { ", appProtocol: \($0)" } ?? "")}]
            """,
            """
            kind: Service
            metadata: {name: other, namespace: ns1}
            spec:
              selector: {app: other}
              addresses: [10.96.0.11]
              ports: [{port: 80, targetPort: 8080}]
            """,
        ]
        for (i, ip) in endpoints.enumerated() {
            docs.append(
                """
                kind: Workload
                metadata: {name: echo-\(i), namespace: ns1, labels: {app: echo}}
                spec: {serviceAccount: echo, node: node1, addresses: [\(ip)]}
                """)
        }
        if !extra.isEmpty { docs.append(extra) }
        return try MeshSnapshot(try ResourceDecoder.decodeFile(docs.joined(separator: "\n---\n"), file: "test.yaml"))
    }
}
