import NIOCore

/// Installs, checks and removes the in-pod table, each in one atomic transaction inside
/// the pod's network namespace.
public struct PodRedirection: Sendable {
    public let rules: InPodRules
    private let executor: NamespaceExecutor

    public init(rules: InPodRules, executor: NamespaceExecutor) {
        self.rules = rules
        self.executor = executor
    }

    /// Replaces the pod's `ambit` table with ours (idempotent).
    public func install(in namespace: NetworkNamespace) async throws {
        let script = rules.installScript
        try await executor.run(in: namespace) {
            _ = try NFTables.run(script, context: "the in-pod rules for \(namespace.path)")
        }
    }

    /// Removes the pod's `ambit` table if there is one.
    public func remove(from namespace: NetworkNamespace) async throws {
        try await executor.run(in: namespace) {
            _ = try NFTables.run(InPodRules.removeScript, context: "removing the in-pod rules from \(namespace.path)")
        }
    }

    /// The pod's `ambit` table as nft prints it, or nil when there is none.
    public func current(in namespace: NetworkNamespace) async throws -> String? {
        try await executor.run(in: namespace) { NFTables.listAmbitTable() }
    }
}
