import AmbitCore

/// The JSON the store writes: one committed batch per log record, every resource in a
/// snapshot. Keys are written in sorted order, so each text is canonical.
///
///     log record  {"changes":[CHANGE,...],"revision":N}
///     CHANGE      {"document":{...},"kind":K,"labels":{...},"name":N,"namespace":NS,"op":"put"}
///               | {"kind":K,"name":N,"namespace":NS,"op":"delete"}
///     snapshot    {"format":"ambit-store-snapshot/1","revision":R,"resources":[
///                 RESOURCE,
///                 ...
///                 ],"crc32c":C}
///     RESOURCE    {"document":{...},"kind":K,"labels":{...},"name":N,"namespace":NS,"resourceVersion":V}
///
/// A put's version is the record's revision, so the log does not repeat it. A delete
/// names only the key; replay recovers the deleted resource from the state it deletes it
/// from. The snapshot's `crc32c` is the CRC-32C of every byte before `,"crc32c":`.
enum StoreCodec {
    static let snapshotFormat = "ambit-store-snapshot/1"
    static let checksumMarker = Array(#","crc32c":"#.utf8)

    // MARK: - Log records

    static func encodeCommit(_ commit: StoreCommit) -> [UInt8] {
        var out = #"{"changes":["#
        for (i, change) in commit.changes.enumerated() {
            if i > 0 { out += "," }
            switch change {
            case .put(let r): CanonicalJSON.write(resource(r, op: "put"), into: &out)
            case .delete(let r): CanonicalJSON.write(key(r.key, op: "delete"), into: &out)
            }
        }
        out += #"],"revision":\#(commit.revision)}"#
        return Array(out.utf8)
    }

    /// A record's revision and its writes (puts and deletes, without expected versions:
    /// those were checked when the batch was accepted).
    static func decodeBatch(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> (revision: UInt64, writes: [StoreWrite]) {
        let top = try fields(parse(bytes), "the record")
        let revision = try version(top["revision"], "revision")
        guard case .list(let changes)? = top["changes"] else { throw DecodeError("changes must be a list") }
        var writes: [StoreWrite] = []
        for change in changes {
            let c = try fields(change, "a change")
            let key = try decodeKey(c)
            switch c["op"] {
            case .string("put")?: writes.append(.put(try decodeResource(c, key: key, version: revision)))
            case .string("delete")?: writes.append(.delete(key))
            default: throw DecodeError("\(key): op must be put or delete")
            }
        }
        return (revision, writes)
    }

    // MARK: - Snapshots

    static func encodeSnapshot(_ snapshot: StoreSnapshot) -> [UInt8] {
        var out = #"{"format":"\#(snapshotFormat)","revision":\#(snapshot.revision),"resources":["#
        for (i, r) in snapshot.resources.enumerated() {
            out += i > 0 ? ",\n" : "\n"
            var value = resource(r, op: nil)
            if case .map(var pairs) = value {
                pairs.append(("resourceVersion", .number(String(r.resourceVersion))))
                value = .map(pairs)
            }
            CanonicalJSON.write(value, into: &out)
        }
        out += snapshot.resources.isEmpty ? "]" : "\n]"
        var bytes = Array(out.utf8)
        let crc = CRC32C.checksum(bytes)
        bytes += checksumMarker + Array("\(crc)}\n".utf8)
        return bytes
    }

    static func decodeSnapshot(_ bytes: [UInt8]) throws(DecodeError) -> StoreSnapshot {
        // The checksum first: damage should be reported as damage, not as whatever JSON
        // error the changed bytes happen to make.
        guard let marker = lastIndex(of: checksumMarker, in: bytes) else { throw DecodeError("it has no checksum (is it complete?)") }
        let trailer = String(decoding: bytes[(marker + checksumMarker.count)...], as: UTF8.self)
        guard trailer.hasSuffix("}\n"), let expected = UInt32(trailer.dropLast(2)) else { throw DecodeError("it does not end with its checksum") }
        guard expected == CRC32C.checksum(Array(bytes[..<marker])) else { throw DecodeError("the checksum does not match its contents") }
        let top = try fields(parse(bytes[...]), "the snapshot")
        guard top["format"] == .string(snapshotFormat) else { throw DecodeError("format is not \(snapshotFormat)") }
        let revision = try version(top["revision"], "revision")
        guard case .list(let items)? = top["resources"] else { throw DecodeError("resources must be a list") }
        var resources: [StoredResource] = []
        var seen: Set<ResourceKey> = []
        for item in items {
            let r = try fields(item, "a resource")
            let key = try decodeKey(r)
            guard seen.insert(key).inserted else { throw DecodeError("\(key) appears twice") }
            let v = try version(r["resourceVersion"], "\(key): resourceVersion")
            guard v >= 1, v <= revision else { throw DecodeError("\(key): resourceVersion \(v) is not from 1 to the snapshot's revision \(revision)") }
            resources.append(try decodeResource(r, key: key, version: v))
        }
        return StoreSnapshot(revision: revision, resources: resources)
    }

    // MARK: - Pieces

    /// Keys in sorted order (document < kind < labels < name < namespace < op), so the
    /// result is canonical without sorting.
    private static func resource(_ r: StoredResource, op: String?) -> ConfigValue {
        let labels = r.labels.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, ConfigValue.string($0.value)) }
        var pairs: [(String, ConfigValue)] = [
            ("document", r.document), ("kind", .string(r.key.kind)), ("labels", .map(labels)),
            ("name", .string(r.key.name)), ("namespace", .string(r.key.namespace)),
        ]
        if let op { pairs.append(("op", .string(op))) }
        return .map(pairs)
    }

    private static func key(_ key: ResourceKey, op: String) -> ConfigValue {
        .map([("kind", .string(key.kind)), ("name", .string(key.name)), ("namespace", .string(key.namespace)), ("op", .string(op))])
    }

    private static func decodeKey(_ fields: [String: ConfigValue]) throws(DecodeError) -> ResourceKey {
        guard case .string(let kind)? = fields["kind"], case .string(let name)? = fields["name"],
            case .string(let namespace)? = fields["namespace"], !kind.isEmpty, !name.isEmpty
        else { throw DecodeError("a resource lacks its kind, namespace or name") }
        return ResourceKey(kind: kind, namespace: namespace, name: name)
    }

    private static func decodeResource(_ fields: [String: ConfigValue], key: ResourceKey, version: UInt64) throws(DecodeError) -> StoredResource {
        guard let document = fields["document"] else { throw DecodeError("\(key) has no document") }
        var labels: [String: String] = [:]
        guard case .map(let pairs)? = fields["labels"] else { throw DecodeError("\(key): labels must be a map") }
        for (name, value) in pairs {
            guard case .string(let text) = value else { throw DecodeError("\(key): label \(name) is not a string") }
            labels[name] = text
        }
        return StoredResource(key: key, labels: labels, document: document, resourceVersion: version)
    }

    private static func parse(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> ConfigValue {
        do throws(JSONParseError) { return try CanonicalJSON.parse(bytes) } catch { throw DecodeError(error.description) }
    }

    private static func fields(_ value: ConfigValue, _ what: String) throws(DecodeError) -> [String: ConfigValue] {
        guard case .map(let pairs) = value else { throw DecodeError("\(what) is not a JSON object") }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    private static func version(_ value: ConfigValue?, _ what: String) throws(DecodeError) -> UInt64 {
        guard case .number(let text)? = value, let n = UInt64(text) else { throw DecodeError("\(what) must be a whole number") }
        return n
    }

    private static func lastIndex(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var i = bytes.count - needle.count
        while i >= 0 {
            if bytes[i] == needle[0], bytes[i..<i + needle.count].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }

    /// Why a record or snapshot that passed its checksum still does not decode.
    struct DecodeError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
