import Glibc

/// Writes a whole file so that a crash leaves the old contents or the new, never a mix:
/// a temporary file created with its final mode (a 0600 file is never briefly readable by
/// others), fsync, rename. Keys, certificates, join-token digests and the node's enrolment
/// record are all written this way.
public enum AtomicFile {
    public static func write(_ contents: String, to path: String, mode: mode_t) throws(IdentityError) {
        try write(bytes: Array(contents.utf8), to: path, mode: mode)
    }

    public static func write(bytes: [UInt8], to path: String, mode: mode_t) throws(IdentityError) {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else {
            throw IdentityError(.file, "cannot create \(temp): \(String(cString: strerror(errno))); check the directory exists and is writable")
        }
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
