import AmbitIdentity
import Foundation
import SwiftProtobuf

/// The last config a data-plane process accepted, kept in its state directory so that a
/// process restarted while the control plane is down can serve traffic with it.
///
/// Format: `AMBITCFG`, a format version (u32 LE, 1), then per type one record: length
/// (u32 LE) and a `DeltaDiscoveryResponse` holding every resource of that type and the
/// `system_version_info` it was accepted at. Written whole with `AtomicFile` (temporary
/// file, fsync, rename), so a crash leaves the previous set or the new one, never a mix.
/// Only sets that validated are ever written; a file that does not decode is reported and
/// ignored (the process then waits for the control plane, as on a first start).
public struct AcceptedConfigFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    static let magic = Array("AMBITCFG".utf8)
    static let formatVersion: UInt32 = 1

    public func write(_ config: AcceptedConfig) throws(DataPlaneControlError) {
        var bytes = Self.magic
        Self.append(Self.formatVersion, to: &bytes)
        for typeURL in Set(config.resources.keys).union(config.systemVersions.keys).sorted() {
            let byName = config.resources[typeURL] ?? [:]
            var record = Ambit_V1_DeltaDiscoveryResponse()
            record.typeURL = typeURL
            record.systemVersionInfo = config.systemVersions[typeURL] ?? ""
            record.resources = byName.keys.sorted().map { byName[$0]! }
            let encoded: [UInt8]
            do { encoded = try record.serializedBytes() } catch {
                throw DataPlaneControlError("cannot encode the accepted config for \(path): \(error)")
            }
            Self.append(UInt32(encoded.count), to: &bytes)
            bytes += encoded
        }
        do { try AtomicFile.write(bytes: bytes, to: path, mode: 0o600) } catch {
            throw DataPlaneControlError("cannot keep the accepted config: \(error.message)")
        }
    }

    /// The stored set; nil when there is none; throws when there is one that cannot be read.
    public func load() throws(DataPlaneControlError) -> AcceptedConfig? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        guard bytes.count >= 12, Array(bytes[0..<8]) == Self.magic else {
            throw DataPlaneControlError("\(path) is not an accepted-config file (bad header); delete it, the control plane will send the config again")
        }
        guard Self.read(bytes, at: 8) == Self.formatVersion else {
            throw DataPlaneControlError("\(path) has format version \(Self.read(bytes, at: 8)), this build reads \(Self.formatVersion); delete it")
        }
        var config = AcceptedConfig()
        var offset = 12
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw truncated(at: offset) }
            let length = Int(Self.read(bytes, at: offset))
            offset += 4
            guard offset + length <= bytes.count else { throw truncated(at: offset) }
            let record: Ambit_V1_DeltaDiscoveryResponse
            do { record = try Ambit_V1_DeltaDiscoveryResponse(serializedBytes: Array(bytes[offset..<offset + length])) } catch {
                throw DataPlaneControlError("\(path) at byte \(offset): \(error); delete it, the control plane will send the config again")
            }
            offset += length
            var byName: [String: Ambit_V1_Resource] = [:]
            for resource in record.resources { byName[resource.name] = resource }
            config.resources[record.typeURL] = byName
            config.systemVersions[record.typeURL] = record.systemVersionInfo
        }
        return config
    }

    private func truncated(at offset: Int) -> DataPlaneControlError {
        DataPlaneControlError("\(path) is cut short at byte \(offset); delete it, the control plane will send the config again")
    }

    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    static func read(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32($1 * 8) }
    }
}
