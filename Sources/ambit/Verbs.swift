import AmbitControl
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
