import AmbitCore
import Foundation

extension Ambit_V1_Resource {
    public init(name: String, version: String, body: [UInt8]) {
        self.init()
        self.name = name
        self.version = version
        self.body = Data(body)
    }

    /// A resource whose body is `document` as canonical JSON and whose version is that
    /// JSON's content hash.
    public init(name: String, document: ConfigValue) {
        let bytes = Array(ResourceBody.canonicalJSON(document).utf8)
        self.init(name: name, version: ResourceBody.contentVersion(bytes), body: bytes)
    }
}

/// The resources a data-plane process holds and serves from: per type URL, name → resource.
/// Only ever a set the process validated and ACKed.
public struct AcceptedConfig: Sendable, Equatable {
    public internal(set) var resources: [String: [String: Ambit_V1_Resource]]
    /// Per type URL, the `system_version_info` of the last accepted response.
    public internal(set) var systemVersions: [String: String]

    public init(resources: [String: [String: Ambit_V1_Resource]] = [:], systemVersions: [String: String] = [:]) {
        self.resources = resources
        self.systemVersions = systemVersions
    }

    public static let empty = AcceptedConfig()

    /// name → version of one type: what a reconnecting client reports as
    /// `initial_resource_versions`.
    public func versions(of typeURL: String) -> [String: String] {
        (resources[typeURL] ?? [:]).mapValues(\.version)
    }

    public var resourceCount: Int { resources.values.reduce(0) { $0 + $1.count } }

    /// Every resource decoded and validated with AmbitCore's `ResourceDecoder`, then checked
    /// as a whole by `MeshSnapshot` (unique names, no address used twice). Types the
    /// snapshot has no place for are skipped (a client only holds what it subscribed to).
    public func meshSnapshot() throws(ResourceError) -> MeshSnapshot {
        var decoded: [Resource] = []
        for typeURL in ResourceTypes.all {
            guard let byName = resources[typeURL], let kind = ResourceTypes.kind(of: typeURL) else { continue }
            for name in byName.keys.sorted() {
                decoded.append(try Self.decode(byName[name]!, kind: kind, typeURL: typeURL))
            }
        }
        return try MeshSnapshot(decoded)
    }

    /// One pushed resource as AmbitCore's `Resource`: the body must be exactly one document
    /// of the type's kind, named as the resource is.
    public static func decode(_ resource: Ambit_V1_Resource, kind: String, typeURL: String) throws(ResourceError) -> Resource {
        let label = "\(typeURL) \(resource.name)"
        let documents = try ConfigParser.documents(String(decoding: resource.body, as: UTF8.self), file: label)
        guard documents.count == 1 else {
            throw ResourceError(file: label, path: "", reason: "the body must hold exactly one document, found \(documents.count)")
        }
        let decoded: Resource
        do { decoded = try ResourceDecoder.decode(documents[0]) } catch var error {
            error.file = label
            throw error
        }
        guard decoded.kind == kind else {
            throw ResourceError(file: label, path: "kind", reason: "a \(typeURL) resource must be a \(kind), got \(decoded.kind)")
        }
        // MeshConfig is a singleton with no metadata: any name will do.
        let key = decoded.metadata?.key ?? resource.name
        guard key == resource.name else {
            throw ResourceError(file: label, path: "metadata", reason: "the document is \(key), but the resource is named \(resource.name)")
        }
        return decoded
    }
}
