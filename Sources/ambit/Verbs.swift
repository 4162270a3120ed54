import AmbitControl
import AmbitCore
import ArgumentParser

/// Options every user verb shares.
struct AdminOptions: ParsableArguments {
    @Option(help: "The CLI credentials written by `ambit control` (default: $AMBITCONFIG, then ~/.ambit/config).")
    var ambitconfig: String?

    func connect() throws -> AdminCommands { try AdminCommands.connect(ambitconfig: ambitconfig) }
}

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update resources from YAML or JSON (a file, a directory, or - for standard input).")
    @Option(name: .shortAndLong, help: "FILE, DIR or -; repeat for several.")
    var filename: [String]
    @Flag(help: "Validate only; change nothing.")
    var dryRun = false
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await readable {
            for line in try await admin.connect().apply(paths: filename, dryRun: dryRun) { print(line) }
        }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show resources.")
    @Argument(help: "The kind: workload, service, authorizationpolicy, httproute, …")
    var kind: String
    @Argument(help: "A name; all of the kind when omitted.")
    var name: String?
    @Option(name: .shortAndLong, help: "The namespace (all namespaces when omitted and no name is given).")
    var namespace: String?
    @Option(name: .shortAndLong, help: "Output: table, wide, yaml or json.")
    var output = "table"
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        guard let format = AdminCommands.OutputFormat(rawValue: output) else {
            throw ValidationError("-o must be table, wide, yaml or json, got '\(output)'")
        }
        try await readable { print(try await admin.connect().get(kind: kind, name: name, namespace: namespace, format: format)) }
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a resource.")
    @Argument var kind: String
    @Argument var name: String
    @Option(name: .shortAndLong) var namespace: String?
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await readable {
            for line in try await admin.connect().delete(kind: kind, name: name, namespace: namespace) { print(line) }
        }
    }
}

struct Label: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set (key=value) or remove (key-) labels on a resource.")
    @Argument var kind: String
    @Argument var name: String
    @Argument(help: "key=value to set, key- to remove.")
    var changes: [String]
    @Option(name: .shortAndLong) var namespace: String?
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await readable { print(try await admin.connect().label(kind: kind, name: name, namespace: namespace, changes: changes)) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The control plane, its resources, and each node's sync state.")
    @OptionGroup var admin: AdminOptions

    func run() async throws {
        try await readable { print(try await admin.connect().status()) }
    }
}

struct ProxyConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-config",
        abstract: "What a node or waypoint has accepted.",
        discussion: """
            With NAME (a node's name, or a waypoint as NAMESPACE/GATEWAY), asks the control plane \
            which resources, at which versions, the process has ACKed on its config stream; -o yaml \
            or json prints those documents. With --local, asks the process on this machine itself \
            (its admin endpoint): what it has enrolled, the workloads and services it knows, its \
            certificates and, for a node, its open connections.
            """)
    @Argument(help: "A node name, or NAMESPACE/GATEWAY for a waypoint (not with --local).")
    var name: String?
    @Option(name: .shortAndLong, help: "Output: table, yaml or json (the accepted documents; with --local, YAML unless json).")
    var output = "table"
    @Flag(help: "Ask the process on this machine through its admin endpoint instead of the control plane.")
    var local = false
    @Option(help: "With --local: the admin address (the --admin the process was started with).")
    var admin = "127.0.0.1:15000"
    @Option(help: "With --local: config_dump, certs or connections (nodes only).")
    var section = "config_dump"
    @OptionGroup var credentials: AdminOptions

    func validate() throws {
        if local {
            guard name == nil else { throw ValidationError("--local reads the process on this machine; leave out NAME") }
            guard ["config_dump", "certs", "connections"].contains(section) else {
                throw ValidationError("--section must be config_dump, certs or connections, got '\(section)'")
            }
        } else {
            guard name != nil else { throw ValidationError("name a node, or NAMESPACE/GATEWAY for a waypoint (or use --local)") }
        }
        guard let format = AdminCommands.OutputFormat(rawValue: output), format != .wide else {
            throw ValidationError("-o must be table, yaml or json, got '\(output)'")
        }
    }

    func run() async throws {
        try await readable {
            if local {
                let address: HostPort
                do { address = try HostPort(parsing: admin) } catch { throw ValidationError("--admin: \(error)") }
                print(try AdminCommands.localProxyConfig(admin: address, section: section, format: AdminCommands.OutputFormat(rawValue: output)!))
            } else {
                print(try await credentials.connect().proxyConfig(name: name!, format: AdminCommands.OutputFormat(rawValue: output)!))
            }
        }
    }
}
