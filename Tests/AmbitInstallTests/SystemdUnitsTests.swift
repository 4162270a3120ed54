import AmbitInstall
import Foundation
import Testing

@Suite struct SystemdUnitsTests {
    /// `systemd-analyze verify` checks each unit's syntax, every directive and that
    /// ExecStart names an executable, so the binary we just built stands in for the
    /// installed one.
    @Test func unitsPassSystemdAnalyzeVerify() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            Issue.record("systemd-analyze is missing: install Debian's systemd package (scripts/test.sh does)")
            return
        }
        let ambit = try TestBinaries.ambit()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-units-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var units = SystemdUnits()
        units.control.binary = ambit
        units.node.binary = ambit
        units.control.user = "root"  // verify checks the user exists; CI has no 'ambit' user
        let paths = try SystemdInstaller(units: units).writeUnits(.all, to: directory)
        #expect(paths.count == 2)
        let (status, output) = try TestBinaries.run(analyze, ["verify"] + paths)
        #expect(status == 0, "systemd-analyze verify failed:\n\(output)")
        // verify exits 0 on an unknown key or a value it cannot parse (it ignores the line),
        // so any output at all is a failure: a clean unit prints nothing.
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "systemd-analyze verify complained:\n\(output)")
    }

    @Test func nodeGetsExactlyItsThreeCapabilitiesAndControlNone() {
        let units = SystemdUnits()
        let node = lines(units.nodeUnit)
        #expect(node.contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW"))
        #expect(node.contains("AmbientCapabilities=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW"))
        #expect(node.contains("RestrictNamespaces=net"))
        #expect(node.contains("NoNewPrivileges=yes"))
        #expect(node.contains("ProtectSystem=strict"))
        #expect(node.contains("StateDirectory=ambit/node"))
        let control = lines(units.controlUnit)
        #expect(control.contains("CapabilityBoundingSet="))
        #expect(control.contains("User=ambit"))
        #expect(control.contains("RestrictNamespaces=yes"))
        #expect(control.contains("StateDirectory=ambit/control"))
        #expect(control.first { $0.hasPrefix("ExecStart=") } == "ExecStart=/usr/local/bin/ambit control serve --data-dir /var/lib/ambit/control --trust-domain cluster.local --listen 0.0.0.0:15012 --join-listen 0.0.0.0:15013 --advertise 127.0.0.1:15012")
    }

    @Test func directoriesOutsideVarLibAreMadeWritableExplicitly() {
        var units = SystemdUnits()
        units.node.stateDirectory = "/srv/ambit/node"
        let node = lines(units.nodeUnit)
        #expect(node.contains("ReadWritePaths=/srv/ambit/node"))
        #expect(!node.contains { $0.hasPrefix("StateDirectory=") })
        #expect(units.directoriesToCreate == ["/srv/ambit/node"])
    }

    @Test func writingOnlyTheNodeUnit() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-units-node-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try SystemdInstaller(units: SystemdUnits()).writeUnits(.node, to: directory)
        #expect(paths == ["\(directory)/ambit-node.service"])
    }

    /// config/systemd/ carries the default units for people who read before they install;
    /// they must be exactly what `ambit install systemd --output config/systemd` writes.
    @Test func committedUnitsMatchTheRenderedDefaults() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/systemd").path
        let units = SystemdUnits()
        let control = try String(contentsOfFile: "\(directory)/\(SystemdUnits.controlUnitName)", encoding: .utf8)
        let node = try String(contentsOfFile: "\(directory)/\(SystemdUnits.nodeUnitName)", encoding: .utf8)
        #expect(control == units.controlUnit, "config/systemd/ambit-control.service is stale: run `ambit install systemd --output config/systemd`")
        #expect(node == units.nodeUnit, "config/systemd/ambit-node.service is stale: run `ambit install systemd --output config/systemd`")
    }

    func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

}
