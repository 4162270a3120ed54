import AmbitRedirect
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What a topology, its nodes and its pods share: the name prefix, the scratch directory,
/// the threads that enter namespaces, and the registry of everything that must go at
/// teardown. Nodes and pods hold this rather than the `Topology`, so nothing forms a cycle
/// through the topology.
final class TopologyContext: Sendable {
    let prefix: String
    /// Process outputs and captures; removed at teardown.
    let workDirectory: String
    let executor: NamespaceExecutor
    let group: any EventLoopGroup

    private struct Registry {
        /// Namespace names in creation order; deleted in reverse.
        var namespaces: [String] = []
        var processes: [TestProcess] = []
        var servers: [TestTCPServer] = []
        var nextOutput = 0
        var tornDown = false
        /// A teardown completed: nothing is left to retry.
        var finished = false
    }

    private let registry = NIOLockedValueBox(Registry())

    init(prefix: String) throws {
        self.prefix = prefix
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-topology-\(prefix.dropLast())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.workDirectory = directory.path
        self.executor = try NamespaceExecutor(threads: 1)
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    // MARK: - Commands

    /// Runs `command` to completion (in `netns` when given) and returns what it printed.
    /// A command still running after `timeout` seconds is killed and reported.
    func run(_ command: [String], in netns: String? = nil, timeout: Double = 30) async throws -> CommandResult {
        let full = netns.map { ["ip", "netns", "exec", $0] + command } ?? command
        let process = try TestProcess.spawn(full, outputPrefix: outputPrefix(for: command))
        defer {
            try? FileManager.default.removeItem(atPath: process.stdoutPath)
            try? FileManager.default.removeItem(atPath: process.stderrPath)
        }
        let status: ExitStatus
        do {
            status = try await process.waitForExit(timeout: timeout)
        } catch {
            await process.terminate(grace: 1)
            throw TestFailure("`\(full.joined(separator: " "))` did not finish within \(timeout) s; killed it. Output so far: \(process.output)")
        }
        return CommandResult(command: full, status: status, stdout: process.stdout, stderr: process.stderr)
    }

    /// `ip ARGS`, which must succeed: the building block of every topology change.
    func ip(_ arguments: String...) async throws {
        try await run(["ip"] + arguments).checked()
    }

    /// Starts a long-running `command` (in `netns` when given); teardown kills it.
    func spawn(_ command: [String], in netns: String? = nil, environment: [String: String] = [:]) throws -> TestProcess {
        try ensureUsable()
        let full = netns.map { ["ip", "netns", "exec", $0] + command } ?? command
        let process = try TestProcess.spawn(full, environment: environment, outputPrefix: outputPrefix(for: command))
        registry.withLockedValue { $0.processes.append(process) }
        return process
    }

    private func outputPrefix(for command: [String]) -> String {
        let index = registry.withLockedValue { r -> Int in
            defer { r.nextOutput += 1 }
            return r.nextOutput
        }
        let name = URL(fileURLWithPath: command.first ?? "command").lastPathComponent
        return "\(workDirectory)/\(index)-\(name)"
    }

    // MARK: - Namespaces

    /// `ip netns add`, after recording the name so teardown deletes it even if a later
    /// step of building the node or pod fails.
    func createNamespace(_ name: String) async throws {
        try ensureUsable()
        try registry.withLockedValue { r in
            guard !r.namespaces.contains(name) else {
                throw TestFailure("a namespace named \(name) already exists in this topology (duplicate node or pod name?)")
            }
            r.namespaces.append(name)
        }
        try await ip("netns", "add", name)
        try await ip("-n", name, "link", "set", "lo", "up")
    }

    /// Writes sysctls inside `netns` (through /proc/sys, which follows the writer's netns).
    func setSysctls(_ values: [(key: String, value: String)], in netns: String) async throws {
        let script = values.map { "echo \($0.value) > /proc/sys/\($0.key.replacingOccurrences(of: ".", with: "/"))" }
            .joined(separator: " && ")
        try await run(["sh", "-c", script], in: netns).checked()
    }

    var namespaces: [String] { registry.withLockedValue { $0.namespaces } }

    // MARK: - Servers

    func register(_ server: TestTCPServer) throws {
        try registry.withLockedValue { r in
            guard !r.tornDown else { throw TestFailure("the topology \(prefix) has been destroyed") }
            r.servers.append(server)
        }
    }

    private func ensureUsable() throws {
        if registry.withLockedValue({ $0.tornDown }) {
            throw TestFailure("the topology \(prefix) has been destroyed")
        }
    }

    // MARK: - Teardown

    /// Stops everything and deletes every namespace. Safe to call more than once: each
    /// call retries whatever is still there.
    func tearDown() async throws {
        let (finished, processes, servers, namespaces) = registry.withLockedValue { r in
            r.tornDown = true
            defer { r.servers = [] }
            return (r.finished, r.processes, r.servers, r.namespaces)
        }
        if finished { return }
        // Processes first: `ip netns exec` children keep their namespace in use.
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await process.terminate() } }
        }
        // Then in-process servers: their sockets also hold the namespaces.
        for server in servers { await server.close() }

        var failures: [String] = []
        for name in namespaces.reversed() where FileManager.default.fileExists(atPath: "\(TopologyNames.netnsDirectory)/\(name)") {
            let result = try await run(["ip", "netns", "delete", name])
            if !result.succeeded { failures.append("\(result)") }
        }
        let survivors = processes.filter(\.isRunning)
        if !survivors.isEmpty {
            failures.append("processes still running after SIGKILL: \(survivors.map(\.description).joined(separator: ", "))")
        }
        let remaining = TopologyNames.namespaces().filter { $0.hasPrefix(prefix) }
        if !remaining.isEmpty {
            failures.append("namespaces still present: \(remaining.joined(separator: ", "))")
        }
        guard failures.isEmpty else {
            throw TestFailure("tearing down topology \(prefix) left things behind:\n  " + failures.joined(separator: "\n  "))
        }
        registry.withLockedValue { $0.finished = true }
        try? await executor.shutdown()
        try? FileManager.default.removeItem(atPath: workDirectory)
    }
}
