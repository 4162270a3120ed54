import AmbitInstall
import ArgumentParser
import Foundation

struct Install: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install Ambit on this machine.",
        subcommands: [Systemd.self])

    struct Systemd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install systemd units for the control plane and/or the node daemon.",
            discussion: """
                Puts the ambit binary in /usr/local/bin, creates the unprivileged 'ambit' user for the control plane,
                writes ambit-control.service and ambit-node.service and reloads systemd. Nothing is started: the
                printed next steps say how. With --output DIR, only writes the unit files to DIR (for review or packaging).
                The node unit runs with exactly CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_NET_RAW; the control plane with none.
                """)

        @Option(help: "What to install: control, node or all.")
        var component: SystemdInstaller.Component = .all
        @Option(help: "Only write the unit files into this directory; change nothing else.")
        var output: String?
        @Option(help: "The control plane's address as nodes and users reach it, HOST:PORT.")
        var control = "127.0.0.1:15012"
        @Option(help: "The mesh trust domain.")
        var trustDomain = "cluster.local"
        @Option(help: "This node's name (node unit). Default: the host name at run time.")
        var nodeName: String?

        func run() async throws {
            var units = SystemdUnits()
            units.control.advertise = control
            units.control.trustDomain = trustDomain
            units.node.control = control
            units.node.trustDomain = trustDomain
            units.node.nodeName = nodeName
            let installer = SystemdInstaller(units: units)
            do {
                if let output {
                    for path in try installer.writeUnits(component, to: output) { print("wrote \(path)") }
                } else {
                    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
                    for line in try installer.install(component, binary: exe) { print(line) }
                }
            } catch let error as InstallError {
                throw CommandFailure(error.description)
            }
        }
    }
}

extension SystemdInstaller.Component: ExpressibleByArgument {}
