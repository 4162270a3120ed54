import AmbitCore

/// What names a resource in the store: its kind, namespace and name, as in Kubernetes.
public struct ResourceKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var kind: String
    /// Empty for cluster-scoped kinds (Namespace, MeshConfig).
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String = "", name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// Kind, then namespace, then name: the order `list` and snapshots use.
    public static func < (a: ResourceKey, b: ResourceKey) -> Bool {
        (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name)
    }

    /// `Workload ns1/echo`, or `Namespace ns1` for cluster-scoped kinds: the same spelling
    /// `ResourceDecoder` uses in its errors, so messages from both read alike.
    public var description: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }
}

/// One resource as stored: the validated document a user (or a registration) wrote, its
/// labels for selection, and the revision of the batch that last wrote it.
///
/// The document is kept in canonical form (map keys sorted, numbers spelled as JSON) and
/// without `metadata.resourceVersion`: the version is the store's to assign, so it lives in
/// `resourceVersion` and is added back only when the document is shown
/// (`documentWithResourceVersion`).
public struct StoredResource: Hashable, Sendable {
    public var key: ResourceKey
    public var labels: [String: String]
    /// The revision of the batch that last wrote this resource; 0 in a resource not yet stored
    /// (the value in a `put` is ignored: the store assigns it).
    public var resourceVersion: UInt64
    /// The validated document, canonical, without `metadata.resourceVersion`.
    public private(set) var document: ConfigValue

    public init(key: ResourceKey, labels: [String: String] = [:], document: ConfigValue, resourceVersion: UInt64 = 0) {
        self.key = key
        self.labels = labels
        self.resourceVersion = resourceVersion
        self.document = CanonicalJSON.canonical(Self.removingResourceVersion(document).document)
    }

    /// The document as canonical JSON text: sorted keys, no insignificant space.
    public var json: String { CanonicalJSON.encode(document) }

    /// The document with `metadata.resourceVersion` set to this resource's version (as a
    /// string, as Kubernetes spells it), for `ambit get` and the admin API: a user edits it
    /// and applies it back, and the version makes that apply a compare-and-set.
    public var documentWithResourceVersion: ConfigValue {
        guard case .map(var top) = document else { return document }
        let version = ConfigValue.string(String(resourceVersion))
        if let m = top.firstIndex(where: { $0.0 == "metadata" }), case .map(var metadata) = top[m].1 {
            metadata.append(("resourceVersion", version))
            top[m].1 = .map(metadata)
        } else {
            top.append(("metadata", .map([("resourceVersion", version)])))
        }
        return CanonicalJSON.canonical(.map(top))
    }

    /// Splits `metadata.resourceVersion` off a document. The version may be written as a
    /// number or (as Kubernetes does) a string of digits.
    public static func splitResourceVersion(_ document: ConfigValue) throws(StoreError) -> (document: ConfigValue, resourceVersion: UInt64?) {
        let (stripped, found) = removingResourceVersion(document)
        guard let found else { return (stripped, nil) }
        let text: String
        switch found {
        case .string(let s), .number(let s): text = s
        case .null: return (stripped, nil)
        default: text = ""
        }
        guard let version = UInt64(text) else {
            throw StoreError.invalid(nil, "metadata.resourceVersion must be a whole number (the version `ambit get` printed), got '\(text)'")
        }
        return (stripped, version)
    }

    private static func removingResourceVersion(_ document: ConfigValue) -> (document: ConfigValue, removed: ConfigValue?) {
        guard case .map(var top) = document, let m = top.firstIndex(where: { $0.0 == "metadata" }),
            case .map(var metadata) = top[m].1, let v = metadata.firstIndex(where: { $0.0 == "resourceVersion" })
        else { return (document, nil) }
        let removed = metadata.remove(at: v).1
        top[m].1 = .map(metadata)
        return (.map(top), removed)
    }

    // ConfigValue is Equatable but not Hashable; the canonical text stands in for it.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(resourceVersion)
        hasher.combine(json)
    }

    public static func == (a: StoredResource, b: StoredResource) -> Bool {
        a.key == b.key && a.resourceVersion == b.resourceVersion && a.labels == b.labels && a.document == b.document
    }
}

/// One write in a batch.
public enum StoreWrite: Hashable, Sendable {
    /// Create or replace. With `expectedVersion`, the write happens only if the stored
    /// resource is at exactly that version (0: only if it does not exist yet).
    case put(StoredResource, expectedVersion: UInt64? = nil)
    /// Remove. Deleting what does not exist is not an error (the batch still commits) unless
    /// `expectedVersion` is given, in which case the stored version must match it.
    case delete(ResourceKey, expectedVersion: UInt64? = nil)

    public var key: ResourceKey {
        switch self {
        case .put(let resource, _): resource.key
        case .delete(let key, _): key
        }
    }

    public var expectedVersion: UInt64? {
        switch self {
        case .put(_, let v), .delete(_, let v): v
        }
    }

    /// A put of a user's document, whose own `metadata.resourceVersion` (if any) becomes the
    /// expected version: applying back what `ambit get` printed fails if someone else wrote
    /// the resource in between, instead of silently undoing their change.
    public static func put(document: ConfigValue, key: ResourceKey, labels: [String: String]) throws(StoreError) -> StoreWrite {
        let (stripped, version) = try StoredResource.splitResourceVersion(document)
        return .put(StoredResource(key: key, labels: labels, document: stripped), expectedVersion: version)
    }
}

/// What a committed batch changed.
public enum StoreChange: Hashable, Sendable {
    /// Created or replaced; the resource's `resourceVersion` is the commit's revision.
    case put(StoredResource)
    /// Removed; carries the resource as it was, so a watcher can see what it selected.
    case delete(StoredResource)

    public var key: ResourceKey { resource.key }

    public var resource: StoredResource {
        switch self {
        case .put(let r), .delete(let r): r
        }
    }
}
