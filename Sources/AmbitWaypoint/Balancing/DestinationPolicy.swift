import AmbitCore

/// The traffic policy that applies to one request's destination, resolved from the
/// DestinationRule the way Istio does it: each of load balancer, connection pool and
/// outlier detection is taken, independently, from the first of
///
/// 1. the subset's port-level settings for the destination port,
/// 2. the subset's own `trafficPolicy`,
/// 3. the rule's port-level settings for the port,
/// 4. the rule's top-level `trafficPolicy`,
///
/// and otherwise defaults: LEAST_REQUEST, no pool limits, no outlier detection.
///
/// Resolved once per (destination, subset, port) when configuration changes, not per
/// request; the proxy keeps the result beside the destination's balancer.
public struct DestinationPolicy: Hashable, Sendable {
    public var loadBalancer: DestinationRule.LoadBalancer
    public var connectionPool: DestinationRule.ConnectionPool?
    public var outlierDetection: DestinationRule.OutlierDetection?
    /// The subset's labels; an endpoint belongs when its labels include all of them.
    /// Empty when no subset was asked for (every endpoint belongs).
    public var subsetLabels: [String: String]

    /// nil when `subset` names a subset the rule does not define (or there is no rule):
    /// the route points at nothing, and the proxy answers as for a backend without
    /// endpoints.
    public init?(rule: DestinationRule?, subset: String? = nil, port: Int) {
        var layers: [DestinationRule.TrafficPolicy?] = []
        var portLayers: [DestinationRule.PortTrafficPolicy?] = []
        subsetLabels = [:]
        if let subset {
            guard let found = rule?.subsets.first(where: { $0.name == subset }) else { return nil }
            subsetLabels = found.labels
            portLayers.append(found.trafficPolicy?.portLevelSettings.first { $0.port == port })
            layers.append(found.trafficPolicy)
        }
        portLayers.append(rule?.trafficPolicy?.portLevelSettings.first { $0.port == port })
        layers.append(rule?.trafficPolicy)

        // Interleave so the order is subset-port, subset, rule-port, rule.
        func first<T>(_ port: (DestinationRule.PortTrafficPolicy) -> T?, _ whole: (DestinationRule.TrafficPolicy) -> T?) -> T? {
            for (portLayer, layer) in zip(portLayers, layers) {
                if let value = portLayer.flatMap(port) { return value }
                if let value = layer.flatMap(whole) { return value }
            }
            return nil
        }
        loadBalancer = first(\.loadBalancer, \.loadBalancer) ?? .default
        connectionPool = first(\.connectionPool, \.connectionPool)
        outlierDetection = first(\.outlierDetection, \.outlierDetection)
    }

    /// The endpoints of the subset (all of them when no subset was asked for).
    public func members(of endpoints: [Endpoint]) -> [Endpoint] {
        guard !subsetLabels.isEmpty else { return endpoints }
        return endpoints.filter { endpoint in subsetLabels.allSatisfy { endpoint.labels[$0.key] == $0.value } }
    }

    /// The balancer's panic threshold: Istio's `minHealthPercent`.
    public var panicThresholdPercent: Int { outlierDetection?.minHealthPercent ?? 0 }
}
