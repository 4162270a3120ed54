import AmbitCore
import AmbitNode
import ArgumentParser

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-flight checks for a node: capabilities, kernel nftables support, ports, directories.",
        discussion: "Each failed check prints the fix. Exits non-zero when any check fails; warnings do not fail.")

    @Option(help: "The node's metrics port.") var metricsPort = 15020
    @Option(help: "The node's readiness port.") var readinessPort = 15021
    @Option(help: "The node's admin port (localhost).") var adminPort = 15000
    @Option(help: "The node's state directory.") var stateDir = "/var/lib/ambit/node"

    func run() async throws {
        var options = NodePreflight.Options()
        options.metricsPort = metricsPort
        options.readinessPort = readinessPort
        options.adminPort = adminPort
        options.stateDirectory = stateDir
        let results = NodePreflight.run(options)
        let width = results.map(\.check.count).max() ?? 0
        for result in results {
            print("[\(result.status.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))] \(result.check.padding(toLength: width, withPad: " ", startingAt: 0))  \(result.detail)")
            if !result.fix.isEmpty && result.status != .ok { print("       fix: \(result.fix)") }
        }
        let failed = results.filter { $0.status == .failed }.count
        if failed > 0 { throw CommandFailure("\(failed) check\(failed == 1 ? "" : "s") failed: this machine cannot run `ambit node` yet") }
        print("this machine can run `ambit node`")
    }
}
