#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The few file-system calls the store makes, with `EINTR` retried and failures turned
/// into `StoreError`s that name the operation and the file.
///
/// Plain POSIX rather than Foundation's `FileManager`: durability needs `fdatasync`, a
/// directory `fsync` after a rename, positioned writes and `flock`, and the errors must say
/// exactly which call failed on which file.
enum POSIX {
    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(StoreError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw StoreError.io("open", path, errno: errno) }
        }
    }

    static func close(_ fd: Int32) {
        // Never retried: on Linux the descriptor is gone even when close reports EINTR.
        _ = Glibc.close(fd)
    }

    /// Writes all of `bytes` at `offset`. Positioned, so a retry after a short write (or a
    /// rewrite after truncating a failed one) lands in the same place.
    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io("write", path, errno: errno)
            }
            done += n
        }
    }

    /// `fdatasync`: the data and the size are on stable storage when it returns.
    static func syncData(_ fd: Int32, path: String) throws(StoreError) {
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw StoreError.io("fdatasync", path, errno: errno) }
        }
    }

    /// Makes a rename, create or unlink in `directory` durable: without it, a crash can
    /// bring back the old name even though the file's data was synced.
    static func syncDirectory(_ directory: String) throws(StoreError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY, mode: 0)
        defer { close(fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw StoreError.io("fsync", directory, errno: errno) }
        }
    }

    static func truncate(_ fd: Int32, to size: Int, path: String) throws(StoreError) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw StoreError.io("truncate", path, errno: errno) }
        }
    }

    static func readAll(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.io("stat", path, errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io("read", path, errno: errno)
            }
            if n == 0 { break }  // shrank while reading; what was read is what there is
            done += n
        }
        return Array(bytes[..<done])
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        guard Glibc.rename(from, to) == 0 else { throw StoreError.io("rename to \(to):", from, errno: errno) }
    }

    /// Removes a file; one that is already gone is not an error.
    static func remove(_ path: String) throws(StoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.io("remove", path, errno: errno) }
    }

    /// Creates `path` (not its parents) with `mode`, or checks that it is a directory.
    static func makeDirectory(_ path: String, mode: mode_t) throws(StoreError) {
        if mkdir(path, mode) == 0 { return }
        let code = errno
        var info = stat()
        guard code == EEXIST, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError.io("create directory", path, errno: code == EEXIST ? ENOTDIR : code)
        }
    }

    static func listDirectory(_ path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else { throw StoreError.io("list", path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old file or the whole
    /// new one: write a temporary file, sync it, rename it over, sync the directory.
    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(StoreError) {
        let temporary = path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(StoreError) {
            try write(fd, bytes, at: 0, path: temporary)
            try syncData(fd, path: temporary)
        } catch {
            close(fd)
            try? remove(temporary)
            throw error
        }
        close(fd)
        try rename(temporary, path)
        try syncDirectory(directory)
    }
}
