import AmbitCore
import AmbitIdentity
import Crypto
import FoundationEssentials
import Glibc
import NIOConcurrencyHelpers

/// One-time join tokens: how a new node (or waypoint) proves it may have an identity before
/// it has any certificate.
///
/// `ambit control token create` makes one; the node presents it once with its CSR and gets
/// its own identity back; the token is then spent. Only a SHA-256 of each token is kept
/// (in `join-tokens` in the data directory, 0600), so reading that file gives nobody a
/// token. Tokens expire (24 h by default).
public final class JoinTokens: Sendable {
    /// What a token entitles its bearer to.
    public enum Grant: Hashable, Sendable, CustomStringConvertible {
        case node(name: String)
        case waypoint(namespace: String, gateway: String)

        public var description: String {
            switch self {
            case .node(let name): "node \(name)"
            case .waypoint(let ns, let gw): "waypoint \(ns)/\(gw)"
            }
        }
    }

    struct Entry: Sendable, Equatable {
        let digest: String
        let grant: Grant
        let expiresAt: Double
    }

    private let path: String?
    private let clock: any WallClock
    private let entries: NIOLockedValueBox<[String: Entry]>

    /// - Parameter path: where the digests persist; nil keeps them in memory (tests).
    public init(path: String?, clock: any WallClock = SystemWallClock()) throws {
        self.path = path
        self.clock = clock
        var loaded: [String: Entry] = [:]
        if let path, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if let entry = Self.parse(line) { loaded[entry.digest] = entry }
            }
        }
        entries = NIOLockedValueBox(loaded)
    }

    /// Creates a token for `grant`; the returned text is shown once and never stored.
    public func create(_ grant: Grant, ttl: Double = 24 * 3600) throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }  // SystemRandomNumberGenerator: getrandom(2)
        let token = "ambit-join-" + hexString(bytes)
        let entry = Entry(digest: Self.digest(token), grant: grant, expiresAt: clock.now() + ttl)
        try withFileLock {
            try entries.withLockedValue { e in
                reload(&e)
                e[entry.digest] = entry
                try save(e)
            }
        }
        return token
    }

    /// The file may be changed by another process (`ambit control token create` next to a
    /// running control plane): re-read it, under an exclusive lock, before each change.
    private func withFileLock<T>(_ body: () throws -> T) rethrows -> T {
        guard let path else { return try body() }
        let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { flock(fd, LOCK_EX) }
        defer {
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
            }
        }
        return try body()
    }

    private func reload(_ e: inout [String: Entry]) {
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        var loaded: [String: Entry] = [:]
        for line in text.split(separator: "\n") {
            if let entry = Self.parse(line) { loaded[entry.digest] = entry }
        }
        e = loaded
    }

    /// Spends `token`: returns its grant, or throws saying why it is not accepted.
    public func redeem(_ token: String) throws(ControlError) -> Grant {
        let digest = Self.digest(token)
        let now = clock.now()
        let result: Result<Grant, ControlError> = withFileLock { entries.withLockedValue { e in
            reload(&e)
            guard let entry = e[digest] else {
                return .failure(ControlError(.unauthorized, "the join token is not valid (unknown or already used); create a new one with `ambit control token create`"))
            }
            e[digest] = nil
            try? save(e)
            guard entry.expiresAt > now else {
                return .failure(ControlError(.unauthorized, "the join token expired; create a new one with `ambit control token create`"))
            }
            return .success(entry.grant)
        } }
        return try result.get()
    }

    /// Tokens not yet used or expired.
    public var outstanding: Int {
        let now = clock.now()
        return entries.withLockedValue { $0.values.filter { $0.expiresAt > now }.count }
    }

    // MARK: - Persistence

    static func digest(_ token: String) -> String { hexString(Array(SHA256.hash(data: Array(token.utf8)))) }

    private func save(_ e: [String: Entry]) throws {
        guard let path else { return }
        let now = clock.now()
        let text = e.values.filter { $0.expiresAt > now }.sorted { $0.digest < $1.digest }.map { entry -> String in
            switch entry.grant {
            case .node(let name): return "\(entry.digest) \(Int(entry.expiresAt)) node \(name)\n"
            case .waypoint(let ns, let gw): return "\(entry.digest) \(Int(entry.expiresAt)) waypoint \(ns) \(gw)\n"
            }
        }.joined()
        try AtomicFile.write(text, to: path, mode: 0o600)
    }

    static func parse(_ line: Substring) -> Entry? {
        let f = line.split(separator: " ").map(String.init)
        guard f.count >= 4, let expires = Double(f[1]) else { return nil }
        switch f[2] {
        case "node": return Entry(digest: f[0], grant: .node(name: f[3]), expiresAt: expires)
        case "waypoint" where f.count == 5: return Entry(digest: f[0], grant: .waypoint(namespace: f[3], gateway: f[4]), expiresAt: expires)
        default: return nil
        }
    }
}
