/// The mesh's host names and their addresses, as one pod sees them through DNS.
///
/// A pure value: the node builds a new table when services change and the server asks its
/// provider for the current one on every query. Lookups follow the short forms a
/// Kubernetes pod may write (its resolv.conf search list makes the stub try them), but
/// only as exact matches after normalisation (lower case, no trailing dot): expanding a
/// name through the search list is the client's job (ndots), so
/// `reviews.bookinfo.default.svc.cluster.local` is unknown here even though
/// `reviews.bookinfo.svc.cluster.local` is a mesh name.
public struct MeshNameTable: Sendable {
    /// One mesh host name and every address it resolves to.
    public struct Entry: Hashable, Sendable {
        public var hostname: String
        public var addresses: [MeshAddress]

        public init(hostname: String, addresses: [MeshAddress]) {
            self.hostname = hostname
            self.addresses = addresses
        }

        /// Addresses as text (`10.96.0.12`, `fd00::12`); throws on the first that is neither.
        public init(hostname: String, addresses: [String]) throws(DNSError) {
            var parsed: [MeshAddress] = []
            for text in addresses {
                do throws(DNSError) { parsed.append(try MeshAddress(parsing: text)) } catch {
                    throw DNSError(.invalidAddress, "mesh name '\(hostname)': \(error.message)")
                }
            }
            self.init(hostname: hostname, addresses: parsed)
        }
    }

    /// What a lookup found: the mesh name it matched, and its addresses by family. Either
    /// list may be empty: the name still exists, and a query for the missing family gets
    /// NODATA rather than being forwarded.
    public struct Match: Hashable, Sendable {
        /// The full name that matched, normalised (`reviews.bookinfo.svc.cluster.local`).
        public let hostname: String
        public let ipv4: [MeshAddress]
        public let ipv6: [MeshAddress]

        /// The addresses that answer a query of `type`: A, AAAA, or both for ANY; none for
        /// any other type.
        public func addresses(for type: DNSRecordType) -> [MeshAddress] {
            switch type {
            case .a: ipv4
            case .aaaa: ipv6
            case .any: ipv4 + ipv6
            default: []
            }
        }
    }

    public static let defaultClusterDomain = "cluster.local"

    /// The cluster's DNS domain, normalised (`cluster.local`).
    public let clusterDomain: String
    private let byName: [String: Match]

    /// An empty table: every query is forwarded.
    public init(clusterDomain: String = defaultClusterDomain) {
        self.clusterDomain = Self.normalise(clusterDomain)
        byName = [:]
    }

    /// Builds the table. Host names are validated and normalised; two entries with the same
    /// name are merged (addresses deduplicated, first-seen order kept).
    public init(entries: [Entry], clusterDomain: String = defaultClusterDomain) throws(DNSError) {
        let domain = try DNSName(clusterDomain)
        self.clusterDomain = domain.normalized ?? Self.normalise(clusterDomain)
        var table: [String: Match] = [:]
        for entry in entries {
            let name = try DNSName(entry.hostname)
            guard let key = name.normalized, !name.labels.isEmpty else {
                throw DNSError(.invalidName, "mesh name '\(entry.hostname)' is not a host name: use letters, digits and '-' between dots")
            }
            let old = table[key]
            var ipv4 = old?.ipv4 ?? []
            var ipv6 = old?.ipv6 ?? []
            for address in entry.addresses {
                if address.isIPv4 {
                    if !ipv4.contains(address) { ipv4.append(address) }
                } else if !ipv6.contains(address) {
                    ipv6.append(address)
                }
            }
            table[key] = Match(hostname: key, ipv4: ipv4, ipv6: ipv6)
        }
        byName = table
    }

    /// Number of distinct mesh names.
    public var count: Int { byName.count }

    // MARK: - Lookup

    /// The mesh name `name` refers to when asked from a pod in `namespace`, or nil when it
    /// is not a mesh name (forward it). Accepted forms, all case-insensitive, with or
    /// without a trailing dot:
    ///
    /// - the full name: `reviews.bookinfo.svc.cluster.local`
    /// - `reviews` → `reviews.<namespace>.svc.<domain>`
    /// - `reviews.bookinfo` → `reviews.bookinfo.svc.<domain>`
    /// - `reviews.bookinfo.svc` → `reviews.bookinfo.svc.<domain>`
    public func lookup(_ name: DNSName, fromNamespace namespace: String) -> Match? {
        guard let text = name.normalized, !name.labels.isEmpty else { return nil }
        for candidate in candidates(for: text, labelCount: name.labels.count, namespace: Self.normalise(namespace)) {
            if let match = byName[candidate] { return match }
        }
        return nil
    }

    /// Text convenience for `lookup(_:fromNamespace:)`; nil for text that is no valid name.
    public func lookup(_ text: String, fromNamespace namespace: String) -> Match? {
        guard let name = try? DNSName(text) else { return nil }
        return lookup(name, fromNamespace: namespace)
    }

    /// The full names a query may mean, most specific first. The short forms are tied to
    /// a label count so that a longer name can never pick up a suffix and match by accident.
    private func candidates(for text: String, labelCount: Int, namespace: String) -> [String] {
        var out = [text]
        switch labelCount {
        case 1 where !namespace.isEmpty: out.append("\(text).\(namespace).svc.\(clusterDomain)")
        case 2: out.append("\(text).svc.\(clusterDomain)")
        case 3 where text.hasSuffix(".svc"): out.append("\(text).\(clusterDomain)")
        default: break
        }
        return out
    }

    private static func normalise(_ text: String) -> String {
        var text = Substring(text.lowercased())
        while text.hasSuffix(".") { text = text.dropLast() }
        return String(text)
    }
}
