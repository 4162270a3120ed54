// ambit-testapp: the sample/test application and its clients. Argument parsing only; the
// behaviour lives in the AmbitTestApp module.
import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct TestAppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ambit-testapp",
        abstract: "A small HTTP/gRPC application for Ambit's tests, quickstart and benchmarks, with its clients.",
        subcommands: [Serve.self, GRPCCall.self, Load.self])

    /// Scripts read the "listening" line from a pipe: flush every line, not every 4 KiB.
    static func lineBufferedOutput() {
        setvbuf(stdout, nil, _IOLBF, 0)
    }
}
