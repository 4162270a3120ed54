/// The framing of the write-ahead log (`wal-<first revision>.log`):
///
///     file   = header record*
///     header = "AMBITWAL" (8 bytes: format 1)
///     record = length:u32le  crc:u32le  payload[length]
///     crc    = CRC-32C over the 4 length bytes followed by the payload
///
/// One record is one committed batch; its payload is the batch as canonical JSON
/// (`StoreCodec.encodeCommit`). The checksum covers the length too, so a damaged length is
/// caught at its own record rather than sending the reader to a wrong offset.
enum LogFormat {
    static let magic: [UInt8] = Array("AMBITWAL".utf8)
    static let headerSize = 8
    static let frameOverhead = 8
    /// Far above any real batch; a bigger length is damage, and refusing it on write keeps
    /// one apply from producing a record the reader would call damage.
    static let maximumPayload = 64 << 20
    /// `{}` is the smallest JSON object; a zero length (a run of zeros left by a crash that
    /// extended the file without writing it) is never a record.
    static let minimumPayload = 2

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(frameOverhead + payload.count)
        let length = UInt32(payload.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        let crc = CRC32C.update(CRC32C.update(0, out[0..<4]), payload[...])
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        out.append(contentsOf: payload)
        return out
    }

    /// The payload range of the record at `offset`, if a complete record with a matching
    /// checksum is there; nil for anything else (short, oversized, or failing its checksum).
    static func payload(in bytes: [UInt8], at offset: Int) -> Range<Int>? {
        guard offset >= 0, bytes.count - offset >= frameOverhead else { return nil }
        let length = Int(readUInt32(bytes, offset))
        guard length >= minimumPayload, length <= maximumPayload, length <= bytes.count - offset - frameOverhead else { return nil }
        let start = offset + frameOverhead
        let crc = CRC32C.update(CRC32C.update(0, bytes[offset..<offset + 4]), bytes[start..<start + length])
        guard crc == readUInt32(bytes, offset + 4) else { return nil }
        return start..<start + length
    }

    /// Whether any intact record starts after `offset`. This tells a crash from damage:
    /// a crash tears only the record being appended, so nothing valid can follow it; an
    /// intact record after a bad one means bytes in the middle changed. (A false match
    /// needs a random 32-bit checksum to agree: about one in four billion per position.)
    static func hasRecord(in bytes: [UInt8], after offset: Int) -> Bool {
        var candidate = offset + 1
        while candidate + frameOverhead <= bytes.count {
            if payload(in: bytes, at: candidate) != nil { return true }
            candidate += 1
        }
        return false
    }

    static func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}

/// CRC-32C (Castagnoli), the checksum iSCSI, ext4 and etcd's log use; table-driven,
/// eight bytes per step ("slicing by 8") so checking a large log on start stays fast.
enum CRC32C {
    private static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
            tables[0][n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 {
                let previous = tables[k - 1][n]
                tables[k][n] = tables[0][Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()

    /// Continues `crc` (0 to start) over `bytes`.
    static func update(_ crc: UInt32, _ bytes: ArraySlice<UInt8>) -> UInt32 {
        tables.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            return bytes.withUnsafeBufferPointer { buffer -> UInt32 in
                var c = ~crc
                var i = 0
                let n = buffer.count
                while n - i >= 8 {
                    let lo = c ^ (UInt32(buffer[i]) | UInt32(buffer[i + 1]) << 8 | UInt32(buffer[i + 2]) << 16 | UInt32(buffer[i + 3]) << 24)
                    c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                        ^ t3[Int(buffer[i + 4])] ^ t2[Int(buffer[i + 5])] ^ t1[Int(buffer[i + 6])] ^ t0[Int(buffer[i + 7])]
                    i += 8
                }
                while i < n {
                    c = t0[Int((c ^ UInt32(buffer[i])) & 0xFF)] ^ (c >> 8)
                    i += 1
                }
                return ~c
            }
        }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { update(0, bytes[...]) }
}
