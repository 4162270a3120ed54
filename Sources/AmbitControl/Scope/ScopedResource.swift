import AmbitCore

/// One stored resource as a node or waypoint is sent it: whole, or with the fields that
/// are none of the receiver's business removed. The form, not the receiver, decides the
/// bytes, so the push encodes each (resource version, form) once for every receiver
/// (`ResourceEncodings`) instead of once per receiver.
public struct ScopedResource: Sendable {
    public enum Form: Hashable, Sendable {
        case whole
        /// A MeshConfig without `spec.ca`: the CA's directory never leaves the control plane.
        case withoutCA
        /// Another node's Workload without its node-local details (`spec.netns`,
        /// `spec.dnsServers`).
        case withoutNodeDetails
    }

    public var stored: StoredResource
    public var form: Form

    public init(_ stored: StoredResource, _ form: Form) {
        self.stored = stored
        self.form = form
    }

    /// The document as sent.
    public var document: ConfigValue {
        switch form {
        case .whole: stored.document
        case .withoutCA: stored.document.removing(["spec", "ca"])
        case .withoutNodeDetails: stored.document.removing(["spec", "netns"]).removing(["spec", "dnsServers"])
        }
    }

    /// The resource as sent, as a `StoredResource` (for tests and tools that read scopes).
    public var sent: StoredResource {
        StoredResource(key: stored.key, labels: stored.labels, document: document, resourceVersion: stored.resourceVersion)
    }
}

extension ConfigValue {
    /// This value with the field at `path` (a chain of map keys) removed, if present.
    func removing(_ path: [String]) -> ConfigValue {
        guard let first = path.first, case .map(var pairs) = self, let index = pairs.firstIndex(where: { $0.0 == first }) else {
            return self
        }
        if path.count == 1 {
            pairs.remove(at: index)
        } else {
            pairs[index].1 = pairs[index].1.removing(Array(path.dropFirst()))
        }
        return .map(pairs)
    }
}
