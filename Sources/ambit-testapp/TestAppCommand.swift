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

}

/// Writes a line to standard output at once. Scripts read the "listening" line from a
/// pipe, where stdio would hold it in a 4 KiB buffer; a write(2) per line never does.
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        offset += n
    }
}
