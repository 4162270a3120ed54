import AmbitCore

/// One `backendRefs[]` entry, resolved against the snapshot when the table is built.
struct RouteBackend: Sendable {
    let reference: BackendReference
    /// nil when the reference cannot be used; `problem` then says why.
    let service: Service?
    let problem: String?
    let filters: RouteFilters

    init(_ reference: BackendReference, filters: RouteFilters, in snapshot: MeshSnapshot) {
        self.reference = reference
        self.filters = filters
        if !reference.isService {
            (service, problem) = (nil, "backend \(reference) is not a Service")
        } else if let s = snapshot.service(namespace: reference.namespace, name: reference.name) {
            if let port = reference.port, !s.ports.contains(where: { $0.port == port }) {
                (service, problem) = (nil, "backend Service \(reference.namespace)/\(reference.name) has no port \(port)")
            } else {
                (service, problem) = (s, nil)
            }
        } else {
            (service, problem) = (nil, "backend Service \(reference.namespace)/\(reference.name) does not exist")
        }
    }
}

/// Weighted choice among a rule's backends (canary and A/B splits).
///
/// Every backend keeps its share of traffic whether it is usable or not: Gateway API wants
/// the share of an invalid backend answered with 500 rather than moved to the others, so a
/// broken canary is visible and never silently turns into a 100 % rollout.
enum WeightedChoice {
    /// The backend for one request, or nil when every weight is 0.
    static func pick(_ backends: [RouteBackend], random: inout some RandomNumberGenerator) -> RouteBackend? {
        let total = backends.reduce(0) { $0 + UInt64($1.reference.weight) }
        guard total > 0 else { return nil }
        var draw = UInt64.random(in: 0..<total, using: &random)
        for backend in backends {
            let weight = UInt64(backend.reference.weight)
            if draw < weight { return backend }
            draw -= weight
        }
        return nil  // unreachable: the draw is below the total
    }
}
