import AmbitCore

/// One destination the balancer can choose: where to dial, the workload labels that
/// DestinationRule subsets select on, and the identity the upstream TLS must present.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: HostPort
    public var labels: [String: String]
    public var identity: SpiffeID?

    public init(address: HostPort, labels: [String: String] = [:], identity: SpiffeID? = nil) {
        self.address = address
        self.labels = labels
        self.identity = identity
    }

    /// What consistent hashing places on the ring, so an endpoint keeps its place however
    /// the list around it is ordered.
    public var hashKey: String { address.description }

    public var description: String { address.description }
}
