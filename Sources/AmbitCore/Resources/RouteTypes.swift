/// The pieces HTTPRoute and GRPCRoute share: where a route attaches (`parentRefs`), where
/// it sends traffic (`backendRefs`), header matches and header modifiers, mirrors.
///
/// They are Gateway API's types with defaults filled in at decoding (a missing namespace is
/// the route's own, a missing weight is 1), so the waypoint never has to know which fields
/// a user left out.

/// Constants of the Gateway API.
public enum GatewayAPI {
    /// The API group of Gateway, HTTPRoute and GRPCRoute.
    public static let group = "gateway.networking.k8s.io"
}

/// Constants of Ambit's own API group, for the kinds Gateway API and Istio do not have.
public enum AmbitAPIGroup {
    /// The group of `HTTPFault` (apiVersion `ambit.dev/v1alpha1`).
    public static let group = "ambit.dev"
}

/// A route filter of a kind outside Gateway API (`type: ExtensionRef`), named as Gateway
/// API's `LocalObjectReference`: same namespace as the route, so only group, kind and name.
///
/// Kept as written: one Ambit cannot resolve is reported as `ResolvedRefs: False` and the
/// requests that would have gone through it get 500 (Gateway API forbids skipping it).
public struct ExtensionReference: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var kind: String
    public var name: String

    public init(group: String = AmbitAPIGroup.group, kind: String = "HTTPFault", name: String) {
        self.group = group
        self.kind = kind
        self.name = name
    }

    /// The one extension kind Ambit implements: fault injection.
    public var isHTTPFault: Bool { group == AmbitAPIGroup.group && kind == "HTTPFault" }

    public var description: String { "\(kind).\(group) \(name)" }
}

/// Where a route attaches: a waypoint `Gateway`, or (Istio ambient and GAMMA) a `Service`
/// whose traffic goes through a waypoint.
public struct ParentReference: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case gateway = "Gateway"
        case service = "Service"
    }

    public var kind: Kind
    public var name: String
    /// The route's namespace when the document does not say.
    public var namespace: String
    /// A listener name on a Gateway; a port name on a Service.
    public var sectionName: String?
    /// A listener port on a Gateway; a service port on a Service.
    public var port: Int?

    public init(kind: Kind, name: String, namespace: String, sectionName: String? = nil, port: Int? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.sectionName = sectionName
        self.port = port
    }

    /// `gateway.networking.k8s.io` for a Gateway, the core group (empty) for a Service.
    public var group: String { kind == .gateway ? GatewayAPI.group : "" }

    /// `Gateway shop/waypoint`, `Service shop/cart port 80`: how messages name it.
    public var description: String {
        var out = "\(kind.rawValue) \(namespace)/\(name)"
        if let sectionName { out += " section '\(sectionName)'" }
        if let port { out += " port \(port)" }
        return out
    }
}

/// Where a route sends requests (Gateway API `BackendRef`).
///
/// Group and kind are kept as written: a reference to a kind Ambit cannot route to is
/// stored and reported as `ResolvedRefs: False, InvalidKind` (as Gateway API asks), rather
/// than refused, so the rest of the route keeps working and the reason is visible.
public struct BackendReference: Hashable, Sendable, CustomStringConvertible {
    /// Empty for the core group (where Service lives).
    public var group: String
    public var kind: String
    public var name: String
    /// The route's namespace when the document does not say.
    public var namespace: String
    /// Required for a Service.
    public var port: Int?
    /// Share of the rule's traffic, relative to the other backends; 0 sends none.
    public var weight: Int

    public init(group: String = "", kind: String = "Service", name: String, namespace: String, port: Int?, weight: Int = 1) {
        self.group = group
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.port = port
        self.weight = weight
    }

    /// A core `Service`: the only kind of backend a waypoint can route to.
    public var isService: Bool { (group.isEmpty || group == "core") && kind == "Service" }

    public var description: String {
        let kindName = isService ? "Service" : (group.isEmpty ? kind : "\(kind).\(group)")
        return "\(kindName) \(namespace)/\(name)" + (port.map { ":\($0)" } ?? "")
    }
}

/// How a header, query parameter or gRPC name is compared.
public enum StringMatchType: String, Hashable, Sendable, CaseIterable {
    case exact = "Exact"
    /// The value is a regular expression that must match the whole string.
    case regularExpression = "RegularExpression"
}

/// One header (or query parameter) condition of a match.
public struct HeaderMatch: Hashable, Sendable {
    public var type: StringMatchType
    /// Header names compare case-insensitively, query parameter names exactly.
    public var name: String
    public var value: String

    public init(type: StringMatchType = .exact, name: String, value: String) {
        self.type = type
        self.name = name
        self.value = value
    }
}

public struct HTTPHeader: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `RequestHeaderModifier` / `ResponseHeaderModifier`. Gateway API makes each name appear
/// at most once per list, so the edits never depend on the order they are applied in.
public struct HeaderModifier: Hashable, Sendable {
    /// Replace the header (or add it when absent).
    public var set: [HTTPHeader]
    /// Append a value, keeping any already there.
    public var add: [HTTPHeader]
    /// Header names to drop.
    public var remove: [String]

    public init(set: [HTTPHeader] = [], add: [HTTPHeader] = [], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }
}

/// `RequestMirror`: a copy of the request goes to another backend; its response is dropped.
public struct RequestMirror: Hashable, Sendable {
    /// The weight is meaningless here and always 1.
    public var backendRef: BackendReference
    /// Share of requests mirrored, 0–100.
    public var percent: Int

    public init(backendRef: BackendReference, percent: Int = 100) {
        self.backendRef = backendRef
        self.percent = percent
    }
}
