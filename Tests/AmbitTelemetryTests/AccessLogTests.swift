#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Testing

@testable import AmbitTelemetry

/// Access-log lines: one record is one line in either format, whatever the values hold.
@Suite struct AccessLogTests {
    /// Values that break naive writers: quotes, newlines, `=`, control characters, UTF-8.
    static let nasty = "say \"hi\"\nnext\tline=1 \\ é 🚀 \u{01}\u{1F}\r"

    // MARK: - Text (logfmt)

    @Test func textQuotesOnlyWhatNeedsQuoting() {
        var record: AccessLogRecord = ["src.addr": "10.0.0.1:4711", "dst.workload": "server"]
        record.append("bytes_sent", 1234)
        record.append("duration_ms", 1.5)
        record.append("whole", 2.0)
        record.append("error", nil as String?)
        record.append("empty", "")
        record.append("dash", "-")
        record.append("spaced", "two words")
        #expect(
            AccessLogFormat.text.render(record)
                == #"src.addr=10.0.0.1:4711 dst.workload=server bytes_sent=1234 duration_ms=1.5 whole=2 error=- empty="" dash="-" spaced="two words""#
        )
    }

    @Test func textEscapesQuotesNewlinesAndControlCharacters() {
        let record: AccessLogRecord = ["msg": .string(Self.nasty), "bad key=\"x\"": 1, "nan": .double(.nan)]
        let line = AccessLogFormat.text.render(record)
        #expect(line == #"msg="say \"hi\"\nnext\tline=1 \\ é 🚀 \u0001\u001f\r" bad_key__x_=1 nan=NaN"#)
        #expect(!line.contains("\n"))
    }

    // MARK: - JSON

    @Test func jsonEscapesEverythingAndParsesBack() throws {
        var record = AccessLogRecord()
        record.append("msg", .string(Self.nasty))
        record.append("quote\"key", "v")
        record.append("count", 42)
        record.append("negative", -7)
        record.append("ratio", 0.125)
        record.append("tiny", 1e-7)
        record.append("inf", .double(.infinity))
        record.append("missing", .missing)
        let line = AccessLogFormat.json.render(record)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 }, "raw control characters are not allowed in JSON strings")
        #expect(line.hasPrefix(#"{"msg":"say \"hi\"\nnext\tline=1 \\ é 🚀 \u0001\u001f\r","quote\"key":"v","count":42"#))

        let parsed = try MiniJSON.parseObject(line)
        #expect(parsed.map(\.key) == ["msg", "quote\"key", "count", "negative", "ratio", "tiny", "inf", "missing"])
        #expect(parsed[0].value == .string(Self.nasty))
        #expect(parsed[2].value == .number(42))
        #expect(parsed[3].value == .number(-7))
        #expect(parsed[4].value == .number(0.125))
        #expect(parsed[5].value == .number(1e-7))
        #expect(parsed[6].value == .null)
        #expect(parsed[7].value == .null)
    }

    @Test func emptyRecordIsAnEmptyObject() throws {
        #expect(AccessLogFormat.json.render(AccessLogRecord()) == "{}")
        #expect(AccessLogFormat.text.render(AccessLogRecord()) == "")
    }

    // MARK: - Sinks

    @Test func memorySinkKeepsWholeLinesAndHonoursCapacity() {
        let sink = MemoryAccessLogSink(capacity: 2)
        let log = AccessLog(format: .json, sink: sink)
        for i in 1...3 { log.log(["n": .integer(Int64(i))]) }
        #expect(sink.lines == [#"{"n":2}"#, #"{"n":3}"#])
    }

    @Test func fileDescriptorSinkWritesWholeLinesFromManyThreads() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let sink = FileDescriptorAccessLogSink(fileDescriptor: writeEnd)
        let log = AccessLog(format: .text, sink: sink)
        let threads = 4
        let perThread = 500
        // Long lines, well past what one pipe write is guaranteed to keep atomic on its own,
        // so only the sink's lock keeps them apart.
        let filler = String(repeating: "x", count: 6000)

        // Drain the pipe on its own thread while writers fill it.
        let reader = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let drained = reader.next().submit { () -> [UInt8] in
            var all: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                all.append(contentsOf: chunk[0..<n])
            }
            close(readEnd)
            return all
        }
        let writers = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var futures: [EventLoopFuture<Void>] = []
        for (index, loop) in writers.makeIterator().enumerated() {
            futures.append(
                loop.submit {
                    for i in 0..<perThread { log.log(["thread": .integer(Int64(index)), "i": .integer(Int64(i)), "pad": .string(filler)]) }
                })
        }
        for future in futures { try await future.get() }
        try await writers.shutdownGracefully()
        close(writeEnd)  // not owned by the sink; the reader needs EOF now
        let bytes = try await drained.get()
        try await reader.shutdownGracefully()

        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "output ends with a newline")
        let body = lines.dropLast()
        #expect(body.count == threads * perThread)
        let pattern = " pad=" + filler
        #expect(body.allSatisfy { $0.hasPrefix("thread=") && $0.hasSuffix(pattern) }, "a line was split or interleaved")
        #expect(sink.droppedLines == 0)
    }

    @Test func openingAnUnwritablePathSaysWhy() {
        #expect {
            _ = try FileDescriptorAccessLogSink(appendingTo: "/nonexistent-dir/access.log")
        } throws: { error in
            guard let error = error as? TelemetryError else { return false }
            return error.code == .openFailed && error.message.contains("/nonexistent-dir/access.log")
        }
    }
}
