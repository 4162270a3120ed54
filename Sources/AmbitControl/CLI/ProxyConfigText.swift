import AmbitAPI
import AmbitCore

/// `ambit proxy-config NAME` as text: what one node or waypoint has accepted, resource by
/// resource, from the versions it ACKed on its config stream.
enum ProxyConfigText {
    static func render(_ r: Ambit_V1_ProxyConfigResponse, format: AdminCommands.OutputFormat) throws -> String {
        switch format {
        case .json, .yaml:
            // The documents themselves, as `ambit get -o` prints them.
            let values = try r.resources.filter(\.current).map { held -> ConfigValue in
                guard let value = try ConfigParser.documents(String(decoding: held.body, as: UTF8.self), file: held.name).first else {
                    throw AdminClientError("the control plane sent an empty document for \(held.name)")
                }
                return value
            }
            return format == .json
                ? values.map { ResourceBody.canonicalJSON($0) }.joined(separator: "\n")
                : values.map { YAMLText.render($0) }.joined(separator: "---\n")
        case .table, .wide:
            var out = [StatusText.streamLine(r.status)]
            out.append("offered config version \(r.offeredVersion.isEmpty ? "-" : r.offeredVersion)")
            for type in r.status.types where !type.pendingNonce.isEmpty {
                out.append("awaiting an answer for \(StatusText.shortType(type.typeURL)) (nonce \(type.pendingNonce))")
            }
            if r.resources.isEmpty {
                out.append("holds no resources")
                return out.joined(separator: "\n")
            }
            var rows = [["TYPE", "NAME", "VERSION", "STATE"]]
            for held in r.resources {
                let state = held.current ? "accepted" : "accepted; a newer version is offered (pending or rejected)"
                rows.append([StatusText.shortType(held.typeURL), held.name, held.version, state])
            }
            out.append(StatusText.table(rows))
            return out.joined(separator: "\n")
        }
    }
}
