import Logging

/// What both listeners share: plan a query against the current table, forward what the
/// mesh does not know, and count every outcome. The handlers only move bytes.
final class DNSQueryEngine: Sendable {
    private let planner: QueryPlanner
    private let names: @Sendable () -> MeshNameTable
    private let forwarder: UpstreamForwarder
    let state: DNSServerState
    private let maxForwardsInFlight: Int
    private let logger: Logger

    init(
        planner: QueryPlanner, names: @escaping @Sendable () -> MeshNameTable, forwarder: UpstreamForwarder,
        maxForwardsInFlight: Int, logger: Logger
    ) {
        self.planner = planner
        self.names = names
        self.forwarder = forwarder
        self.state = DNSServerState()
        self.maxForwardsInFlight = maxForwardsInFlight
        self.logger = logger
    }

    /// The immediate decision; replies and drops are counted here, forwards when they end.
    func plan(_ bytes: [UInt8], transport: DNSTransport) -> QueryPlan {
        let plan = planner.plan(bytes, table: names(), transport: transport)
        switch plan {
        case .reply(_, let outcome):
            state.count(outcome)
        case .drop(let reason):
            state.count(.failed)
            logger.debug("dropped a DNS message", metadata: ["reason": "\(reason)"])
        case .forward:
            break
        }
        return plan
    }

    /// The bytes to send the client for a forwarded query: the upstream's answer with the
    /// client's ID, or SERVFAIL when no upstream answered in time (or too many forwards are
    /// already waiting).
    func forward(_ query: DNSMessage, bytes: [UInt8], transport: DNSTransport) async -> [UInt8] {
        let question = query.questions.first.map { "\($0)" } ?? "?"
        guard state.beginForward(limit: maxForwardsInFlight) else {
            state.count(.failed)
            logger.warning(
                "too many DNS queries waiting for upstream resolvers; answering SERVFAIL",
                metadata: ["limit": "\(maxForwardsInFlight)", "question": "\(question)"])
            return DNSMessage.serverFailure(to: query).serialized()
        }
        defer { state.endForward() }
        if let answer = await forwarder.forward(bytes, allowTCPRetry: transport == .tcp) {
            state.countForwarded()
            return answer
        }
        state.count(.failed)
        logger.info(
            "no upstream resolver answered; answering SERVFAIL (check the pod's resolv.conf nameservers are reachable)",
            metadata: ["question": "\(question)", "upstreams": "\(forwarder.upstreams)"])
        return DNSMessage.serverFailure(to: query).serialized()
    }
}
