import AmbitAPI
import AmbitCore

/// The identities the control plane hands out besides workloads', all in the mesh's
/// system namespace so policies can single them out:
///
/// - a node: `spiffe://<td>/ns/ambit-system/sa/node-<name>`; it may hold only this one,
///   and ask for workload certificates only for pods scheduled on it;
/// - the administrator (the CLI): `spiffe://<td>/ns/ambit-system/sa/admin`;
/// - the control plane itself: `spiffe://<td>/ns/ambit-system/sa/control`.
///
/// A waypoint is a workload like any other: `spiffe://<td>/ns/<ns>/sa/<gateway>`, as Istio
/// names it. The data-plane side derives the same names from `DataPlaneKind`, their one home.
public struct ControlIdentities: Sendable {
    public let trustDomain: String
    public var systemNamespace: String { DataPlaneKind.systemNamespace }

    public init(trustDomain: String) {
        self.trustDomain = trustDomain
    }

    public func node(_ name: String) throws(CoreError) -> SpiffeID {
        try DataPlaneKind.node(name: name).identity(trustDomain: trustDomain)
    }

    /// The node name in a node identity, or nil when `id` is not a node's.
    public func nodeName(of id: SpiffeID) -> String? {
        guard id.trustDomain == trustDomain, id.namespace == systemNamespace, id.serviceAccount.hasPrefix("node-") else {
            return nil
        }
        return String(id.serviceAccount.dropFirst("node-".count))
    }

    public var admin: SpiffeID { try! SpiffeID(trustDomain: trustDomain, namespace: systemNamespace, serviceAccount: "admin") }
    public var control: SpiffeID { try! DataPlaneKind.controlIdentity(trustDomain: trustDomain) }

    public func waypoint(namespace: String, gateway: String) throws(CoreError) -> SpiffeID {
        try DataPlaneKind.waypoint(namespace: namespace, name: gateway).identity(trustDomain: trustDomain)
    }
}
