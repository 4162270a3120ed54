import Foundation
import Testing
import Yams

/// config/kubernetes/: every document parses, matches the schema of its kind, and the
/// documents agree with each other and with the `ambit` binary (selectors select, mounts
/// name volumes, service accounts exist, every flag passed to `ambit` is one it knows).
@Suite struct KubernetesManifestTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/kubernetes").path

    /// Every document of every manifest, with the file it came from.
    static func documents() throws -> [(file: String, document: [String: Any])] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        var out: [(String, [String: Any])] = []
        for file in files {
            var text = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
            // The waypoint template's placeholders are plain words, so it parses as is; fill
            // them in the way its README does to check what a user would apply.
            text = text.replacingOccurrences(of: "__NAMESPACE__", with: "shop").replacingOccurrences(of: "__NAME__", with: "waypoint")
            for case let document? in try Yams.load_all(yaml: text) {
                guard let map = document as? [String: Any] else { throw ManifestError("\(file): a document is not a mapping") }
                out.append((file, map))
            }
        }
        return out
    }

    @Test func everyDocumentMatchesTheSchemaOfItsKind() throws {
        let documents = try Self.documents()
        #expect(documents.count >= 12)
        var problems: [String] = []
        for (file, document) in documents {
            problems += ManifestSchema.check(document).map { "\(file): \($0)" }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func theExpectedObjectsAreThere() throws {
        let names = Set(try Self.documents().map { "\($0.document["kind"] as? String ?? "?")/\(ManifestSchema.name($0.document))" })
        for expected in [
            "Namespace/ambit-system", "Deployment/ambit-control", "Service/ambit-control", "DaemonSet/ambit-node",
            "ServiceAccount/ambit-control", "ServiceAccount/ambit-node", "ClusterRole/ambit-control", "ClusterRoleBinding/ambit-control",
            "CustomResourceDefinition/workloads.ambit.dev", "CustomResourceDefinition/httpfaults.ambit.dev",
            "CustomResourceDefinition/meshconfigs.ambit.dev", "PersistentVolumeClaim/ambit-control-data",
            "Gateway/waypoint", "Deployment/waypoint", "Service/waypoint", "ServiceAccount/waypoint",
        ] {
            #expect(names.contains(expected), "config/kubernetes has no \(expected)")
        }
    }

    @Test func documentsAgreeWithEachOther() throws {
        let documents = try Self.documents().map(\.document)
        let accounts = Set(documents.filter { $0["kind"] as? String == "ServiceAccount" }.map(ManifestSchema.name))
        let roles = Set(documents.filter { $0["kind"] as? String == "ClusterRole" }.map(ManifestSchema.name))
        for document in documents {
            let kind = document["kind"] as? String ?? ""
            let name = ManifestSchema.name(document)
            if kind == "ClusterRoleBinding" {
                let role = (document["roleRef"] as? [String: Any])?["name"] as? String ?? ""
                #expect(roles.contains(role), "\(name) binds a ClusterRole '\(role)' that is not defined")
            }
            guard ["Deployment", "DaemonSet"].contains(kind), let spec = document["spec"] as? [String: Any],
                let template = spec["template"] as? [String: Any], let podSpec = template["spec"] as? [String: Any]
            else { continue }
            let selector = ((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String]) ?? [:]
            let labels = ((template["metadata"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
            #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }, "\(kind) \(name): the selector does not select its own pods")
            if let account = podSpec["serviceAccountName"] as? String {
                #expect(accounts.contains(account), "\(kind) \(name) runs as ServiceAccount '\(account)', which no manifest defines")
            }
            let volumes = Set(((podSpec["volumes"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
            for container in (podSpec["containers"] as? [[String: Any]]) ?? [] {
                for mount in (container["volumeMounts"] as? [[String: Any]]) ?? [] {
                    let volume = mount["name"] as? String ?? ""
                    #expect(volumes.contains(volume), "\(kind) \(name): mount '\(volume)' names no volume")
                }
            }
        }
        // Services point at ports their pods declare.
        for service in documents where service["kind"] as? String == "Service" {
            let spec = service["spec"] as? [String: Any] ?? [:]
            let selector = spec["selector"] as? [String: String] ?? [:]
            let pods = documents.filter { ["Deployment", "DaemonSet"].contains($0["kind"] as? String ?? "") }.compactMap {
                ((($0["spec"] as? [String: Any])?["template"] as? [String: Any]))
            }.filter { template in
                let labels = ((template["metadata"] as? [String: Any])?["labels"] as? [String: String]) ?? [:]
                return selector.allSatisfy { labels[$0.key] == $0.value }
            }
            #expect(!pods.isEmpty, "Service \(ManifestSchema.name(service)) selects no pods")
            let declared = Set(pods.flatMap { (($0["spec"] as? [String: Any])?["containers"] as? [[String: Any]]) ?? [] }
                .flatMap { ($0["ports"] as? [[String: Any]]) ?? [] }.compactMap { $0["containerPort"] as? Int })
            for port in (spec["ports"] as? [[String: Any]]) ?? [] {
                let target = port["targetPort"] as? Int ?? port["port"] as? Int ?? 0
                #expect(declared.contains(target), "Service \(ManifestSchema.name(service)) targets port \(target), which its pods do not declare")
            }
        }
    }

    /// A flag the binary does not know would crash-loop the pod; ask the binary itself.
    @Test func everyAmbitFlagInTheManifestsExists() throws {
        let ambit = try TestBinaries.ambit()
        var checked = 0
        for (file, document) in try Self.documents() {
            let podSpec = ((document["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            for container in (podSpec?["containers"] as? [[String: Any]]) ?? [] where (container["command"] as? [String]) == ["ambit"] {
                let args = container["args"] as? [String] ?? []
                let subcommand = Array(args.prefix { !$0.hasPrefix("-") })
                let (status, help) = try TestBinaries.run(ambit, subcommand + ["--help"])
                #expect(status == 0, "\(file): `ambit \(subcommand.joined(separator: " ")) --help` failed: \(help)")
                for arg in args where arg.hasPrefix("--") {
                    let flag = String(arg.prefix { $0 != "=" })
                    #expect(help.contains(flag + " ") || help.contains(flag + "\n") || help.contains(flag + ","),
                        "\(file): `ambit \(subcommand.joined(separator: " "))` has no option \(flag)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 10)
    }
}

struct ManifestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A schema for the kinds Ambit ships: the fields the API server requires, with their
/// types, and the values it would refuse. Enough to catch a typo'd key, a missing
/// required field or a wrong type before a cluster does.
enum ManifestSchema {
    static let apiVersions: [String: String] = [
        "Namespace": "v1", "ServiceAccount": "v1", "Service": "v1", "PersistentVolumeClaim": "v1", "ConfigMap": "v1",
        "Deployment": "apps/v1", "DaemonSet": "apps/v1",
        "ClusterRole": "rbac.authorization.k8s.io/v1", "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
        "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
        "CustomResourceDefinition": "apiextensions.k8s.io/v1", "Gateway": "gateway.networking.k8s.io/v1",
    ]
    static let clusterScoped: Set<String> = ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]
    static let verbs: Set<String> = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"]
    static let capabilities: Set<String> = ["NET_ADMIN", "SYS_ADMIN", "NET_RAW", "ALL", "NET_BIND_SERVICE"]
    /// Keys Kubernetes accepts at each level we check; anything else is a typo.
    static let podSpecKeys: Set<String> = [
        "serviceAccountName", "automountServiceAccountToken", "hostNetwork", "hostPID", "dnsPolicy", "priorityClassName",
        "terminationGracePeriodSeconds", "tolerations", "containers", "initContainers", "volumes", "securityContext", "nodeSelector",
    ]
    static let containerKeys: Set<String> = [
        "name", "image", "imagePullPolicy", "command", "args", "env", "ports", "readinessProbe", "livenessProbe", "resources",
        "securityContext", "volumeMounts",
    ]

    static func name(_ document: [String: Any]) -> String {
        (document["metadata"] as? [String: Any])?["name"] as? String ?? ""
    }

    static func check(_ d: [String: Any]) -> [String] {
        var problems: [String] = []
        guard let kind = d["kind"] as? String else { return ["a document has no kind"] }
        let label = "\(kind) \(name(d))"
        guard let expected = apiVersions[kind] else { return ["\(label): kind \(kind) is not one Ambit ships"] }
        if d["apiVersion"] as? String != expected { problems.append("\(label): apiVersion must be \(expected)") }
        guard let metadata = d["metadata"] as? [String: Any] else { return problems + ["\(label): metadata is missing"] }
        if !isDNSName(name(d)) { problems.append("\(label): metadata.name '\(name(d))' is not a DNS-1123 name") }
        let namespaced = metadata["namespace"] != nil
        if clusterScoped.contains(kind) == namespaced {
            problems.append("\(label): \(clusterScoped.contains(kind) ? "is cluster-scoped and must not" : "must") have metadata.namespace")
        }
        switch kind {
        case "Deployment", "DaemonSet": problems += workload(d, label)
        case "Service": problems += service(d, label)
        case "ClusterRole", "Role":
            for (i, rule) in ((d["rules"] as? [[String: Any]]) ?? []).enumerated() {
                if rule["apiGroups"] as? [String] == nil || (rule["resources"] as? [String])?.isEmpty != false {
                    problems.append("\(label): rules[\(i)] needs apiGroups and resources")
                }
                let ruleVerbs = rule["verbs"] as? [String] ?? []
                if ruleVerbs.isEmpty || !ruleVerbs.allSatisfy(verbs.contains) { problems.append("\(label): rules[\(i)].verbs \(ruleVerbs) has an unknown verb") }
            }
        case "ClusterRoleBinding", "RoleBinding":
            if (d["roleRef"] as? [String: Any])?["name"] == nil { problems.append("\(label): roleRef.name is required") }
            if (d["subjects"] as? [[String: Any]])?.isEmpty != false { problems.append("\(label): subjects is required") }
        case "CustomResourceDefinition": problems += crd(d, label)
        case "PersistentVolumeClaim":
            let spec = d["spec"] as? [String: Any]
            if (spec?["accessModes"] as? [String])?.isEmpty != false { problems.append("\(label): spec.accessModes is required") }
            if ((spec?["resources"] as? [String: Any])?["requests"] as? [String: Any])?["storage"] == nil { problems.append("\(label): spec.resources.requests.storage is required") }
        case "Gateway":
            let spec = d["spec"] as? [String: Any]
            if spec?["gatewayClassName"] as? String != "ambit-waypoint" { problems.append("\(label): a waypoint's gatewayClassName is ambit-waypoint") }
            if (spec?["listeners"] as? [[String: Any]])?.isEmpty != false { problems.append("\(label): spec.listeners is required") }
        default: break
        }
        return problems
    }

    static func workload(_ d: [String: Any], _ label: String) -> [String] {
        var problems: [String] = []
        guard let spec = d["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
            let podSpec = template["spec"] as? [String: Any]
        else { return ["\(label): spec.template.spec is required"] }
        if ((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: Any]) == nil { problems.append("\(label): spec.selector.matchLabels is required") }
        for key in podSpec.keys where !podSpecKeys.contains(key) { problems.append("\(label): unknown pod spec field '\(key)'") }
        let containers = podSpec["containers"] as? [[String: Any]] ?? []
        if containers.isEmpty { problems.append("\(label): at least one container is required") }
        for c in containers {
            let cname = c["name"] as? String ?? "?"
            for key in c.keys where !containerKeys.contains(key) { problems.append("\(label): container \(cname): unknown field '\(key)'") }
            if c["image"] as? String == nil { problems.append("\(label): container \(cname): image is required") }
            for port in (c["ports"] as? [[String: Any]]) ?? [] {
                guard let n = port["containerPort"] as? Int, (1...65535).contains(n) else { problems.append("\(label): container \(cname): bad containerPort"); continue }
                if let pname = port["name"] as? String, pname.count > 15 { problems.append("\(label): port name '\(pname)' is longer than 15 characters") }
            }
            let security = c["securityContext"] as? [String: Any] ?? [:]
            if security["allowPrivilegeEscalation"] as? Bool != false { problems.append("\(label): container \(cname) must set allowPrivilegeEscalation: false") }
            if security["privileged"] as? Bool == true { problems.append("\(label): container \(cname) must not be privileged") }
            let caps = security["capabilities"] as? [String: Any] ?? [:]
            if caps["drop"] as? [String] != ["ALL"] { problems.append("\(label): container \(cname) must drop ALL capabilities and add back only what it needs") }
            for cap in (caps["add"] as? [String]) ?? [] where !capabilities.contains(cap) { problems.append("\(label): unexpected capability \(cap)") }
        }
        return problems
    }

    static func service(_ d: [String: Any], _ label: String) -> [String] {
        let spec = d["spec"] as? [String: Any] ?? [:]
        var problems: [String] = []
        if (spec["selector"] as? [String: Any])?.isEmpty != false { problems.append("\(label): spec.selector is required") }
        let ports = spec["ports"] as? [[String: Any]] ?? []
        if ports.isEmpty { problems.append("\(label): spec.ports is required") }
        for port in ports {
            guard let n = port["port"] as? Int, (1...65535).contains(n) else { problems.append("\(label): a port needs port 1–65535"); continue }
            if ports.count > 1 && port["name"] == nil { problems.append("\(label): with several ports each needs a name") }
        }
        return problems
    }

    static func crd(_ d: [String: Any], _ label: String) -> [String] {
        var problems: [String] = []
        guard let spec = d["spec"] as? [String: Any], let group = spec["group"] as? String,
            let names = spec["names"] as? [String: Any], let plural = names["plural"] as? String, names["kind"] is String
        else { return ["\(label): spec.group, spec.names.plural and spec.names.kind are required"] }
        if name(d) != "\(plural).\(group)" { problems.append("\(label): the name must be <plural>.<group>, \(plural).\(group)") }
        if !["Namespaced", "Cluster"].contains(spec["scope"] as? String ?? "") { problems.append("\(label): scope must be Namespaced or Cluster") }
        let versions = spec["versions"] as? [[String: Any]] ?? []
        if versions.filter({ $0["storage"] as? Bool == true }).count != 1 { problems.append("\(label): exactly one version must be the storage version") }
        for version in versions {
            let schema = (version["schema"] as? [String: Any])?["openAPIV3Schema"] as? [String: Any]
            if schema?["type"] as? String != "object" { problems.append("\(label): version \(version["name"] ?? "?") needs an openAPIV3Schema of type object") }
            problems += structural(schema ?? [:], path: "\(label) openAPIV3Schema")
        }
        return problems
    }

    /// A structural schema (what apiextensions/v1 requires): every node has a type, objects
    /// list their properties, arrays their items.
    static func structural(_ node: [String: Any], path: String) -> [String] {
        guard let type = node["type"] as? String else { return ["\(path): every schema node needs a type"] }
        var problems: [String] = []
        switch type {
        case "object":
            for (key, value) in (node["properties"] as? [String: Any]) ?? [:] {
                problems += structural(value as? [String: Any] ?? [:], path: "\(path).\(key)")
            }
        case "array":
            guard let items = node["items"] as? [String: Any] else { return ["\(path): an array needs items"] }
            problems += structural(items, path: "\(path)[]")
        case "string", "integer", "number", "boolean": break
        default: problems.append("\(path): unknown type \(type)")
        }
        return problems
    }

    static func isDNSName(_ s: String) -> Bool {
        guard let first = s.first, s.count <= 253, first.isLetter || first.isNumber else { return false }
        return s.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }
    }
}
