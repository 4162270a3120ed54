import Foundation

/// Puts the units in place on this machine (`ambit install systemd`), or only writes them
/// to a directory for review or packaging (`--output DIR`).
///
/// Installing is idempotent: files are rewritten with the same content, the user is only
/// created when missing, and nothing is started — the printed next steps say how, so a
/// person decides when traffic starts flowing through the mesh.
public struct SystemdInstaller: Sendable {
    public var units: SystemdUnits
    /// Where unit files go.
    public var unitDirectory = "/etc/systemd/system"
    /// Ambit's own config directory (trust bundle, join token).
    public var configDirectory = "/etc/ambit"

    public init(units: SystemdUnits) {
        self.units = units
    }

    public enum Component: String, Sendable, CaseIterable {
        case control, node, all
    }

    /// Writes the unit files for `component` into `directory`; returns the paths written.
    @discardableResult
    public func writeUnits(_ component: Component, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        if component != .node {
            let path = "\(directory)/\(SystemdUnits.controlUnitName)"
            try Data(units.controlUnit.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            written.append(path)
        }
        if component != .control {
            let path = "\(directory)/\(SystemdUnits.nodeUnitName)"
            try Data(units.nodeUnit.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            written.append(path)
        }
        return written
    }

    /// Installs on this machine: the binary, the service user, the directories and the
    /// units, then reloads systemd. Returns what was done, one line each, and the next steps.
    public func install(_ component: Component, binary currentExecutable: String) throws -> [String] {
        guard getuid() == 0 else {
            throw InstallError("installing systemd units needs root: run it with sudo, or use --output DIR to only write the unit files")
        }
        var done: [String] = []
        let binary = units.control.binary
        if currentExecutable != binary {
            try? FileManager.default.removeItem(atPath: binary + ".new")
            try FileManager.default.copyItem(atPath: currentExecutable, toPath: binary + ".new")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary + ".new")
            guard rename(binary + ".new", binary) == 0 else { throw InstallError("cannot put the binary at \(binary): \(String(cString: strerror(errno)))") }
            done.append("installed \(binary)")
        }
        if component != .node, try ensureSystemUser(units.control.user) { done.append("created the system user '\(units.control.user)'") }
        try FileManager.default.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
        for directory in units.directoriesToCreate {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for path in try writeUnits(component, to: unitDirectory) { done.append("wrote \(path)") }
        try run("/usr/bin/env", ["systemctl", "daemon-reload"])
        done.append("reloaded systemd")
        return done + nextSteps(component)
    }

    func nextSteps(_ component: Component) -> [String] {
        var steps = ["", "next:"]
        if component != .node {
            steps.append("  systemctl enable --now \(SystemdUnits.controlUnitName)")
            steps.append("  sudo -u \(units.control.user) \(units.control.binary) control token create --data-dir \(units.control.dataDirectory) --node NODE > \(units.node.joinTokenFile)  # on each node")
            steps.append("  copy \(units.control.dataDirectory)/ca/root-cert.pem to \(units.node.trustBundle) on each node")
        }
        if component != .control {
            steps.append("  systemctl enable --now \(SystemdUnits.nodeUnitName)   # after the join token and trust bundle are in \(configDirectory)")
        }
        return steps
    }

    /// Creates a system user with no login and no home; false when it already exists.
    func ensureSystemUser(_ name: String) throws -> Bool {
        if getpwnam(name) != nil { return false }
        try run("/usr/sbin/useradd", ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name])
        return true
    }

    func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InstallError("\(([executable] + arguments).joined(separator: " ")) failed with status \(process.terminationStatus)")
        }
    }
}

public struct InstallError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
