import AmbitAPI
import AmbitCore
import AmbitIdentity
import FoundationEssentials
import Glibc
import X509

/// What the user verbs (`ambit apply`, `get`, `delete`, `label`, `status`) do, given parsed
/// arguments: read inputs, call the admin API, and render what to print. The executable
/// only parses arguments and prints these results.
public struct AdminCommands: Sendable {
    public let client: AdminClient

    /// Connects with the credentials at `path` (or `$AMBITCONFIG`, or `~/.ambit/config`).
    public static func connect(ambitconfig path: String?) throws -> AdminCommands {
        let candidates = [path, ProcessInfo.processInfo.environment["AMBITCONFIG"], Self.home().map { $0 + "/.ambit/config" }].compactMap { $0 }
        guard let file = candidates.first(where: { access($0, R_OK) == 0 }) else {
            throw AdminClientError(
                "no ambitconfig found (looked at \(candidates.joined(separator: ", "))); pass --ambitconfig <data-dir>/admin.ambitconfig as written by `ambit control`")
        }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw AdminClientError("cannot read \(file): \(error)")
        }
        let config = try ClientConfig(parsing: text, file: file)
        let bundle = try TrustBundle(trustDomain: config.trustDomain, pem: config.caPEM, source: file)
        let verifier = SpiffeVerifier(trustBundle: bundle)
        let identities = ControlIdentities(trustDomain: config.trustDomain)
        let security = ControlPlaneTLS.client(
            certificateChainPEM: config.certificatePEM, privateKeyPEM: config.keyPEM, trustRootsPEM: config.caPEM,
            verifyPeer: verifier.peerCheck(expected: [identities.control]))
        return AdminCommands(client: AdminClient(server: config.server, security: security))
    }

    static func home() -> String? { ProcessInfo.processInfo.environment["HOME"] }

    // MARK: - apply

    /// `ambit apply -f PATH`: a file, every .yaml/.yml/.json file of a directory (in name
    /// order, as one batch each), or `-` for standard input. Returns the lines to print.
    public func apply(paths: [String], dryRun: Bool) async throws -> [String] {
        var lines: [String] = []
        for path in paths {
            for (file, text) in try Self.read(path) {
                let results = try await client.apply(documents: text, file: file, dryRun: dryRun)
                lines += results.map { r in
                    "\(r.kind.lowercased())/\(r.namespace.isEmpty ? "" : r.namespace + "/")\(r.name) \(Self.word(r.action))\(dryRun ? " (dry run)" : "")"
                }
            }
        }
        return lines
    }

    static func read(_ path: String) throws -> [(String, String)] {
        if path == "-" {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = Glibc.read(0, &buffer, buffer.count)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            return [("-", String(decoding: bytes, as: UTF8.self))]
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw AdminClientError("\(path): no such file or directory") }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let names = (try FileManager.default.contentsOfDirectory(atPath: path)).sorted()
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            return try names.map { name in (path + "/" + name, try String(contentsOfFile: path + "/" + name, encoding: .utf8)) }
        }
        return [(path, try String(contentsOfFile: path, encoding: .utf8))]
    }

    static func word(_ action: Ambit_V1_ResourceResult.Action) -> String {
        switch action {
        case .created: "created"
        case .configured: "configured"
        case .unchanged: "unchanged"
        case .deleted: "deleted"
        default: "?"
        }
    }

    // MARK: - get

    public enum OutputFormat: String, Sendable, CaseIterable { case table, wide, yaml, json }

    public func get(kind: String, name: String?, namespace: String?, format: OutputFormat) async throws -> String {
        let documents = try await client.get(kind: kind, namespace: namespace ?? "", name: name ?? "")
        let values = try documents.map { text -> ConfigValue in
            guard let value = try ConfigParser.documents(text, file: "response").first else { throw AdminClientError("empty document") }
            return value
        }
        switch format {
        case .json:
            return values.map { ResourceBody.canonicalJSON($0) }.joined(separator: "\n")
        case .yaml:
            return values.map { YAMLText.render($0) }.joined(separator: "---\n")
        case .table, .wide:
            return Self.table(values, wide: format == .wide)
        }
    }

    static func table(_ values: [ConfigValue], wide: Bool) -> String {
        var rows: [[String]] = [wide ? ["NAMESPACE", "NAME", "KIND", "VERSION", "LABELS", "STATUS"] : ["NAMESPACE", "NAME", "KIND", "VERSION"]]
        for v in values {
            let meta = v["metadata"]
            var row = [meta?["namespace"]?.text ?? "", meta?["name"]?.text ?? "", v["kind"]?.text ?? "", meta?["resourceVersion"]?.text ?? ""]
            if wide {
                if case .map(let labels)? = meta?["labels"] {
                    row.append(labels.map { "\($0.0)=\($0.1.text)" }.joined(separator: ","))
                } else { row.append("") }
                if case .list(let conditions)? = v["status"]?["conditions"] {
                    row.append(conditions.map { "\($0["type"]?.text ?? "")=\($0["status"]?.text ?? "")" }.joined(separator: ","))
                } else { row.append("") }
            }
            rows.append(row)
        }
        if rows.count == 1 { return "No resources found." }
        return StatusText.table(rows)
    }

    // MARK: - delete, label, status

    public func delete(kind: String, name: String, namespace: String?) async throws -> [String] {
        try await client.delete(kind: kind, namespace: namespace ?? "", name: name).map { r in
            "\(r.kind.lowercased())/\(r.namespace.isEmpty ? "" : r.namespace + "/")\(r.name) deleted"
        }
    }

    /// `k=v` sets, `k-` removes.
    public func label(kind: String, name: String, namespace: String?, changes: [String]) async throws -> String {
        var set: [String: String] = [:]
        var remove: [String] = []
        for change in changes {
            if change.hasSuffix("-"), !change.contains("=") {
                remove.append(String(change.dropLast()))
            } else if let eq = change.firstIndex(of: "=") {
                set[String(change[..<eq])] = String(change[change.index(after: eq)...])
            } else {
                throw AdminClientError("'\(change)' is neither key=value (set) nor key- (remove)")
            }
        }
        let r = try await client.label(kind: kind, namespace: namespace ?? "", name: name, set: set, remove: remove)
        return "\(r.kind.lowercased())/\(r.namespace.isEmpty ? "" : r.namespace + "/")\(r.name) labeled (resourceVersion \(r.resourceVersion))"
    }

    public func status() async throws -> String {
        StatusText.render(try await client.status(), server: "\(client.server)", now: Double(time(nil)))
    }

    // MARK: - proxy-config

    /// What a node (by name) or waypoint (NAMESPACE/GATEWAY) has accepted, as the control
    /// plane knows it from the process's ACKs.
    public func proxyConfig(name: String, format: OutputFormat) async throws -> String {
        try ProxyConfigText.render(try await client.proxyConfig(name: name), format: format)
    }

    /// The process's own account, from its admin endpoint (on the node itself): what it has
    /// enrolled, the workloads and services it knows, its certificates.
    /// JSON as the process sent it with `-o json`, else as YAML, which reads better.
    public static func localProxyConfig(admin: HostPort, section: String, format: OutputFormat) throws -> String {
        let json = try LocalAdmin.get(host: admin.host, port: admin.port, path: "/" + section)
        guard format != .json, let value = try? ConfigParser.documents(json, file: "/" + section).first else { return json }
        return YAMLText.render(value)
    }
}

extension ConfigValue {
    subscript(key: String) -> ConfigValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    var text: String {
        switch self {
        case .string(let s), .number(let s): s
        case .bool(let b): b ? "true" : "false"
        case .null: ""
        case .list, .map: ResourceBody.canonicalJSON(self)
        }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
