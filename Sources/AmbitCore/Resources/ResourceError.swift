/// Why a config document was refused: which file, which document in it, which field, and
/// what is wrong with it, e.g.
/// `mesh.yaml, document 3 (Service ns1/echo): spec.ports[0].port: must be from 1 to 65535, got 70000`.
public struct ResourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file (or `-` for standard input); empty when not known.
    public var file: String
    /// 1-based index of the document within the file; 0 when not known.
    public var document: Int
    /// `Kind namespace/name` once known.
    public var resource: String?
    /// Dotted field path: `spec.rules[0].from[1].source.principals[2]`.
    public var path: String
    public var reason: String

    public init(file: String = "", document: Int = 0, resource: String? = nil, path: String, reason: String) {
        self.file = file
        self.document = document
        self.resource = resource
        self.path = path
        self.reason = reason
    }

    public var description: String {
        var location: [String] = []
        if !file.isEmpty { location.append(file) }
        if document > 0 { location.append("document \(document)" + (resource.map { " (\($0))" } ?? "")) }
        else if let resource { location.append(resource) }
        let prefix = location.isEmpty ? "" : location.joined(separator: ", ") + ": "
        return prefix + (path.isEmpty ? "" : "\(path): ") + reason
    }
}
