import Foundation

/// The binaries the install tests run: the `ambit` just built, and system tools.
enum TestBinaries {
    static func ambit() throws -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test bundle runs from .build/<triple>/debug (or inside an .xctest directory).
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("ambit").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        struct Missing: Error, CustomStringConvertible { var description: String }
        throw Missing(description: "the ambit binary is not next to the tests: run `swift build --build-tests` first")
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
