/// Status conditions: what `ambit get` and `ambit status` show about a resource that
/// decoded fine but refers to something that is not there.
///
/// Decoding checks one document; references between documents (a route's backend Service,
/// its parent Gateway, a `use-waypoint` label, a DestinationRule host) can only be checked
/// against the whole snapshot, and they may resolve later when the missing resource is
/// applied. So they are not errors: they are Kubernetes-style conditions with Gateway API's
/// types and reasons, computed from the snapshot by a pure function, never dropped silently.

/// One condition, as Kubernetes writes them in `status.conditions`.
public struct Condition: Hashable, Sendable, CustomStringConvertible {
    public enum ConditionType: String, Hashable, Sendable {
        case accepted = "Accepted"
        case resolvedRefs = "ResolvedRefs"
    }

    public enum Status: String, Hashable, Sendable {
        case `true` = "True"
        case `false` = "False"
    }

    /// Gateway API's reason names, plus Ambit's own (marked below).
    public enum Reason: String, Hashable, Sendable {
        case accepted = "Accepted"
        case noMatchingParent = "NoMatchingParent"
        case notAllowedByListeners = "NotAllowedByListeners"
        case noMatchingListenerHostname = "NoMatchingListenerHostname"
        case resolvedRefs = "ResolvedRefs"
        case backendNotFound = "BackendNotFound"
        case invalidKind = "InvalidKind"
        /// Ambit: a route attached to a Service whose traffic goes through no waypoint.
        case noWaypoint = "NoWaypoint"
        /// Ambit: a `use-waypoint` label naming a Gateway that does not exist.
        case waypointNotFound = "WaypointNotFound"
        /// Ambit: an `ExtensionRef` filter naming an HTTPFault that does not exist.
        case extensionNotFound = "ExtensionNotFound"
    }

    public var type: ConditionType
    public var status: Status
    public var reason: Reason
    public var message: String
    /// For a route's `Accepted`: the parent it is about (Gateway API keeps one set of
    /// conditions per parent). nil for conditions about the resource as a whole.
    public var parent: ParentReference?

    public init(type: ConditionType, status: Status, reason: Reason, message: String, parent: ParentReference? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.parent = parent
    }

    /// `Accepted=False (NoMatchingParent): Gateway shop/waypoint does not exist`.
    public var description: String { "\(type.rawValue)=\(status.rawValue) (\(reason.rawValue)): \(message)" }
}

public enum ResourceStatus {
    /// The conditions of `resource` against `snapshot`. Empty for kinds that refer to
    /// nothing (Workload, policies, MeshConfig, and Namespace or Service without a
    /// `use-waypoint` label).
    public static func conditions(for resource: Resource, in snapshot: MeshSnapshot) -> [Condition] {
        switch resource {
        case .gateway:
            // The class was checked on decode; anything else about a Gateway is programmed
            // by the waypoint, whose readiness the control plane reports separately.
            return [Condition(type: .accepted, status: .true, reason: .accepted, message: "the waypoint Gateway is valid")]
        case .httpRoute(let route):
            let backends = route.rules.flatMap { rule in
                rule.backendRefs.map(\.backend) + mirrors(rule.filters) + rule.backendRefs.flatMap { mirrors($0.filters) }
            }
            let extensions = route.rules.flatMap { rule in extensionRefs(rule.filters) + rule.backendRefs.flatMap { extensionRefs($0.filters) } }
            return route.parentRefs.map { parent(route.metadata, route.hostnames, $0, in: snapshot) }
                + [resolved(backends, extensions: extensions, namespace: route.metadata.namespace, in: snapshot)]
        case .grpcRoute(let route):
            let backends = route.rules.flatMap { rule in
                rule.backendRefs.map(\.backend) + mirrors(rule.filters) + rule.backendRefs.flatMap { mirrors($0.filters) }
            }
            return route.parentRefs.map { parent(route.metadata, route.hostnames, $0, in: snapshot) } + [resolved(backends, in: snapshot)]
        case .destinationRule(let rule):
            let accepted = Condition(type: .accepted, status: .true, reason: .accepted, message: "the DestinationRule is valid")
            let matched = snapshot.services(matching: rule)
            if matched.isEmpty {
                let host = rule.fullyQualifiedHost(clusterDomain: snapshot.mesh.clusterDomain)
                return [accepted, Condition(type: .resolvedRefs, status: .false, reason: .backendNotFound, message: "host '\(host)' matches no Service")]
            }
            let names = matched.map(\.metadata.key).sorted().joined(separator: ", ")
            return [accepted, Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "host matches Service \(names)")]
        case .service(let service):
            return waypointLabel(service.metadata.labels[MeshLabels.useWaypoint], namespace: service.metadata.namespace, in: snapshot)
        case .namespace(let namespace):
            return waypointLabel(namespace.metadata.labels[MeshLabels.useWaypoint], namespace: namespace.metadata.name, in: snapshot)
        case .httpFault:
            return [Condition(type: .accepted, status: .true, reason: .accepted, message: "the HTTPFault is valid")]
        case .workload, .authorizationPolicy, .peerAuthentication, .meshConfig:
            return []
        }
    }

    private static func mirrors(_ filters: [HTTPRoute.Filter]) -> [BackendReference] {
        filters.compactMap { if case .requestMirror(let m) = $0 { m.backendRef } else { nil } }
    }

    private static func extensionRefs(_ filters: [HTTPRoute.Filter]) -> [ExtensionReference] {
        filters.compactMap { if case .extensionRef(let r) = $0 { r } else { nil } }
    }

    private static func mirrors(_ filters: [GRPCRoute.Filter]) -> [BackendReference] {
        filters.compactMap { if case .requestMirror(let m) = $0 { m.backendRef } else { nil } }
    }

    /// `Accepted` for one parent: it exists, it has the listener or port named, and one of
    /// its listeners lets this route attach.
    static func parent(_ route: ObjectMeta, _ hostnames: [String], _ ref: ParentReference, in s: MeshSnapshot) -> Condition {
        func refused(_ reason: Condition.Reason, _ message: String) -> Condition {
            Condition(type: .accepted, status: .false, reason: reason, message: message, parent: ref)
        }
        let accepted = Condition(type: .accepted, status: .true, reason: .accepted, message: "attached to \(ref)", parent: ref)
        let parentName = "\(ref.kind.rawValue) \(ref.namespace)/\(ref.name)"
        switch ref.kind {
        case .service:
            guard let service = s.service(namespace: ref.namespace, name: ref.name) else {
                return refused(.noMatchingParent, "\(parentName) does not exist")
            }
            if let port = ref.port, !service.ports.contains(where: { $0.port == port }) {
                return refused(.noMatchingParent, "\(parentName) has no port \(port)")
            }
            if let section = ref.sectionName, !service.ports.contains(where: { $0.name == section }) {
                return refused(.noMatchingParent, "\(parentName) has no port named '\(section)'")
            }
            // A route on a Service is enforced by the service's waypoint; without one, no
            // proxy ever sees the requests, which must not look like success.
            guard let waypointName = s.waypointName(for: service) else {
                return refused(.noWaypoint, "\(parentName) has no waypoint: label it or its namespace \(MeshLabels.useWaypoint)=NAME, or the route is never applied")
            }
            guard s.waypoint(for: service) != nil else {
                return refused(.noWaypoint, "\(parentName) uses waypoint '\(waypointName)', which is not a Gateway in namespace \(ref.namespace)")
            }
            return accepted
        case .gateway:
            guard let gateway = s.gateway(namespace: ref.namespace, name: ref.name) else {
                return refused(.noMatchingParent, "\(parentName) does not exist")
            }
            var listeners = gateway.listeners
            if let section = ref.sectionName {
                listeners = listeners.filter { $0.name == section }
                if listeners.isEmpty { return refused(.noMatchingParent, "\(parentName) has no listener named '\(section)'") }
            }
            if let port = ref.port {
                listeners = listeners.filter { $0.port == port }
                if listeners.isEmpty { return refused(.noMatchingParent, "\(parentName) has no listener on port \(port)") }
            }
            let routeLabels = s.namespaces[route.namespace]?.metadata.labels ?? [:]
            let allowing = listeners.filter { l in
                guard l.protocol.acceptsHTTPRoutes else { return false }
                switch l.allowedRoutes {
                case .all: return true
                case .same: return route.namespace == gateway.metadata.namespace
                case .selector(let labels): return labels.allSatisfy { routeLabels[$0.key] == $0.value }
                }
            }
            if allowing.isEmpty {
                return refused(.notAllowedByListeners, "no listener of \(parentName) admits this route (TCP listeners take no HTTP routes; allowedRoutes limits the namespaces)")
            }
            let hostMatching = allowing.filter { l in
                guard let host = l.hostname, !hostnames.isEmpty else { return true }
                return hostnames.contains { HostnameMatch.intersects($0, host) }
            }
            if hostMatching.isEmpty {
                return refused(.noMatchingListenerHostname, "none of the route's hostnames matches a listener hostname of \(parentName)")
            }
            return accepted
        }
    }

    /// `ResolvedRefs`: every backend (and mirror target) is a Service that exists and has
    /// the port named. The first failure gives the reason; the message lists them all.
    static func resolved(
        _ backends: [BackendReference], extensions: [ExtensionReference] = [], namespace: String = "", in s: MeshSnapshot
    ) -> Condition {
        var problems: [(Condition.Reason, String)] = []
        for b in backends {
            guard b.isService else {
                problems.append((.invalidKind, "\(b): only Service backends are supported"))
                continue
            }
            guard let service = s.service(namespace: b.namespace, name: b.name) else {
                problems.append((.backendNotFound, "Service \(b.namespace)/\(b.name) does not exist"))
                continue
            }
            if let port = b.port, !service.ports.contains(where: { $0.port == port }) {
                problems.append((.backendNotFound, "Service \(b.namespace)/\(b.name) has no port \(port)"))
            }
        }
        // Requests through an unresolved extension filter get 500 (Gateway API: such a filter
        // is never skipped), so it is as much a broken reference as a missing backend.
        for e in extensions {
            guard e.isHTTPFault else {
                problems.append((.invalidKind, "extension filter \(e): only HTTPFault.\(AmbitAPIGroup.group) is supported"))
                continue
            }
            if s.httpFault(e, namespace: namespace) == nil {
                problems.append((.extensionNotFound, "HTTPFault \(namespace)/\(e.name) does not exist"))
            }
        }
        guard let first = problems.first else {
            return Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "all references resolved")
        }
        var seen: Set<String> = []
        let message = problems.map(\.1).filter { seen.insert($0).inserted }.joined(separator: "; ")
        return Condition(type: .resolvedRefs, status: .false, reason: first.0, message: message)
    }

    /// A `use-waypoint` label must name a Gateway in the same namespace.
    static func waypointLabel(_ name: String?, namespace: String, in s: MeshSnapshot) -> [Condition] {
        guard let name else { return [] }
        guard let gateway = s.gateway(namespace: namespace, name: name) else {
            return [Condition(
                type: .resolvedRefs, status: .false, reason: .waypointNotFound,
                message: "\(MeshLabels.useWaypoint)=\(name) names no Gateway in namespace \(namespace)")]
        }
        guard !gateway.hboneListeners.isEmpty else {
            return [Condition(
                type: .resolvedRefs, status: .false, reason: .waypointNotFound,
                message: "Gateway \(namespace)/\(name) has no HBONE listener, so mesh traffic cannot reach it")]
        }
        return [Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "uses waypoint Gateway \(namespace)/\(name)")]
    }
}
