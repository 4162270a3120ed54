import FoundationEssentials
import Glibc
import X509
import SwiftASN1

/// Reading and writing the PEM files of the CA and of workload certificates. Keys are
/// created with mode 0600 from the first byte, so a key is never briefly readable by
/// others; the explicit fchmod only undoes a restrictive umask on public files.
enum PEMFiles {
    static func read(_ path: String, what: String) throws(IdentityError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = access(path, R_OK) == 0 ? "it could not be read" : String(cString: strerror(errno))
            throw IdentityError(.file, "cannot read the \(what) at \(path): \(reason)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func certificates(fromPEM pem: String) throws -> [Certificate] {
        let documents = try PEMDocument.parseMultiple(pemString: pem)
        return try documents.filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
    }

    /// Writes `contents` to `path` atomically (temp file + rename) with `mode`.
    static func write(_ contents: String, to path: String, mode: mode_t) throws(IdentityError) {
        try AtomicFile.write(contents, to: path, mode: mode)
    }
}
