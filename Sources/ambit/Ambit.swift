// The `ambit` executable: argument parsing only. Every command hands its parsed options
// to a library module and prints what it returns.
import AmbitCore
import AmbitIdentity
import AmbitAPI
import AmbitControl
import AmbitNode
import AmbitTunnel
import ArgumentParser
import Logging

@main
struct Ambit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ambit",
        abstract: "Ambit, a sidecarless service mesh.",
        subcommands: [Control.self, Node.self, Waypoint.self, Apply.self, Get.self, Delete.self, Label.self, Status.self, ProxyConfig.self, Install.self, Check.self, DevCA.self, Tunnel.self, Demo.self])
}

/// Options every long-running command shares.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func bootstrap(label: String) -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension HostPort: ExpressibleByArgument {
    public init?(argument: String) {
        guard let parsed = try? HostPort(parsing: argument) else { return nil }
        self = parsed
    }
}

/// Parses a SPIFFE ID option with the parser's own message on failure (ArgumentParser's
/// generic "invalid value" would hide which part is wrong).
func spiffeID(_ text: String, option: String) throws -> SpiffeID {
    do { return try SpiffeID(parsing: text) } catch { throw ValidationError("\(option): \(error.message)") }
}

/// A failure while running a command (not a usage mistake): printed as one line, without
/// the usage text ArgumentParser adds to validation errors.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Errors reach the person as one readable line, not a stack trace.
func readable<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as IdentityError {
        throw CommandFailure(error.message)
    } catch let error as TunnelError {
        throw CommandFailure(error.message)
    } catch let error as CoreError {
        throw CommandFailure(error.message)
    } catch let error as NodeError {
        throw CommandFailure(error.message)
    } catch let error as ResourceError {
        throw CommandFailure("\(error)")
    } catch let error as AdminClientError {
        throw CommandFailure(error.description)
    } catch let error as ControlError {
        throw CommandFailure(error.message)
    } catch let error as StoreError {
        throw CommandFailure(error.message)
    }
}

/// `ambit node` and `ambit waypoint` follow exactly one source of config: `--config FILE`
/// or `--control HOST:PORT`; the join flags only make sense with the latter.
/// - Parameters:
///   - what: what the config is called in the error ("the mesh config").
///   - why: appended to the "not both" error (", not both: a node follows …").
func validateConfigSource(
    config: String?, control: HostPort?, join: String?, joinFile: String?, trustBundle: String?, what: String, why: String = ""
) throws {
    switch (config, control) {
    case (nil, nil):
        throw ValidationError("say where \(what) comes from: --config FILE (a mesh file) or --control HOST:PORT (a control plane)")
    case (.some, .some):
        throw ValidationError("give either --config FILE or --control HOST:PORT, not both\(why)")
    case (.some, nil):
        for (flag, value) in [("--join", join), ("--join-file", joinFile), ("--trust-bundle", trustBundle)] where value != nil {
            throw ValidationError("\(flag) goes with --control (joining a control plane), not with --config")
        }
    case (nil, .some):
        break
    }
}
