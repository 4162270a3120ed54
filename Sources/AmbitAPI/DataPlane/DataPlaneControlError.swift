import Glibc

/// Why a data-plane process cannot join or follow its control plane, as one sentence that
/// says what to do next (run with a token, pass the trust bundle, fix the directory).
public struct DataPlaneControlError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The state directory of a data-plane process: identity files, the last accepted config
/// and workload certificates live here, all private to the process (0700).
enum StateFiles {
    /// Creates `path` and its missing parents with mode 0700.
    static func createDirectory(_ path: String) throws(DataPlaneControlError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw DataPlaneControlError("cannot create \(current): \(String(cString: strerror(errno))); check the state directory is writable")
            }
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
