import Glibc

/// The daemon's state directory (enrolment record, node identity): private to root.
enum StateDirectory {
    /// Creates `path` and its missing parents with mode 0700.
    static func create(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw NodeError(.startup, "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
