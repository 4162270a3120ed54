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
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else {
            throw IdentityError(.file, "cannot create \(temp): \(String(cString: strerror(errno))); check the directory exists and is writable")
        }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temp)
                throw IdentityError(.file, "cannot write \(temp): \(reason)")
            }
            written += n
        }
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw IdentityError(.file, "cannot move \(temp) to \(path): \(reason)")
        }
    }
}
