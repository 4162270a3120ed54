import AmbitCore
import AmbitIdentity
import AmbitTesting
import Crypto
import NIOCore
import NIOPosix
import Testing

@testable import AmbitTunnel

/// The tunnel end to end over loopback: real TLS 1.3, real HTTP/2, real sockets.
@Suite(.timeLimit(.minutes(5)))
struct HBONETunnelTests {
    @Test func bytesCrossTheTunnelAndTheServerSeesTheClientIdentity() async throws {
        let mesh = try await TunnelHarness()
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))

        let reply = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: forwarder.localAddress.port!)
            try socket.send("hello through the mesh")
            socket.shutdownWrite()
            return try socket.readToEnd()
        }
        #expect(String(decoding: reply, as: UTF8.self) == "hello through the mesh")

        let record = try #require(try await mesh.waitForRecords(1).first)
        #expect(record.peer == mesh.clientID)
        #expect(record.request?.authority == .loopback(app.port))
        #expect(record.request?.forwardedFor?.hasPrefix("127.0.0.1:") == true)
        #expect(record.outcome == .completed)
        #expect(record.bytesToDestination == 22)
        #expect(record.bytesFromDestination == 22)
        await app.close()
        await mesh.shutdown()
    }

    @Test func twoConcurrentStreamsShareOneConnection() async throws {
        let mesh = try await TunnelHarness(threads: 1)
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))
        let port = forwarder.localAddress.port!

        // Both sockets are open at once: the first waits for the second before finishing.
        let (a, b) = try await BlockingSocket.run {
            let first = try BlockingSocket(connectTo: port)
            let second = try BlockingSocket(connectTo: port)
            try first.send("first")
            try second.send("second")
            let echoA = try first.read(exactly: 5)
            let echoB = try second.read(exactly: 6)
            return (String(decoding: echoA, as: UTF8.self), String(decoding: echoB, as: UTF8.self))
        }
        #expect(a == "first")
        #expect(b == "second")
        #expect(mesh.client.connectionCount == 1)
        #expect(app.connectionsAccepted == 2)
        await app.close()
        await mesh.shutdown()
    }

    @Test func aServerThatAllowsOneStreamGetsASecondConnection() async throws {
        var settings = HBONESettings()
        settings.maxConcurrentStreams = 1
        let mesh = try await TunnelHarness(threads: 1, serverSettings: settings)
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))
        let port = forwarder.localAddress.port!
        // The first tunnel's connection must have heard the server's SETTINGS before the
        // second stream is placed, so open and use the first one fully first.
        let first = try await BlockingSocket.run { () -> BlockingSocket in
            let s = try BlockingSocket(connectTo: port)
            try s.send("one")
            _ = try s.read(exactly: 3)
            return s
        }
        let second = try await BlockingSocket.run {
            let s = try BlockingSocket(connectTo: port)
            try s.send("two")
            return String(decoding: try s.read(exactly: 3), as: UTF8.self)
        }
        #expect(second == "two")
        #expect(mesh.client.connectionCount == 2)
        first.shutdownWrite()
        await app.close()
        await mesh.shutdown()
    }

    @Test func clientHalfCloseStillCarriesTheReply() async throws {
        // The client shuts its write side first; the sink replies only after seeing EOF.
        let mesh = try await TunnelHarness()
        let sink = try await TestTCPServer.start(.sink, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(sink.port))
        let payload = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })

        let reply = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: forwarder.localAddress.port!)
            try payload.withUnsafeBytes { try socket.send($0) }
            socket.shutdownWrite()
            return String(decoding: try socket.readToEnd(), as: UTF8.self)
        }
        #expect(reply == "100000 \(sha256Hex(payload))\n")
        await sink.close()
        await mesh.shutdown()
    }

    @Test func serverHalfCloseStillAcceptsClientBytes() async throws {
        // The destination sends a banner and shuts its write side at once; the client
        // reads EOF yet can still send, and the destination still receives.
        let mesh = try await TunnelHarness()
        let app = try await TestTCPServer.start(.banner("welcome\n"), group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))

        let banner = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: forwarder.localAddress.port!)
            let banner = try socket.readToEnd()  // EOF arrives while our side is still open
            try socket.send("still talking")
            socket.shutdownWrite()
            return String(decoding: banner, as: UTF8.self)
        }
        #expect(banner == "welcome\n")
        try await waitUntil("the destination received the bytes sent after its half-close") { app.bytesReceived == 13 }
        await app.close()
        await mesh.shutdown()
    }

    @Test func oneGibibyteThroughOneStreamWithBoundedMemory() async throws {
        let mesh = try await TunnelHarness()
        let sink = try await TestTCPServer.start(.sink, group: mesh.group, paused: true)
        let forwarder = try await mesh.forwarder(to: .loopback(sink.port))
        let total = 1 << 30
        var block = [UInt8](repeating: 0, count: 1 << 20)
        for i in block.indices { block[i] = UInt8.random(in: 0...255) }
        let chunk = block
        var expected = SHA256()
        for _ in 0..<(total / chunk.count) { expected.update(data: chunk) }
        let expectedDigest = expected.finalize().map { String(format: "%02x", $0) }.joined()

        let socket = try await BlockingSocket.run { try BlockingSocket(connectTo: forwarder.localAddress.port!) }
        let rssBefore = residentMemoryBytes()
        let sender = Task {
            try await BlockingSocket.run {
                for _ in 0..<(total / chunk.count) { try chunk.withUnsafeBytes { try socket.send($0) } }
                socket.shutdownWrite()
                return String(decoding: try socket.readToEnd(), as: UTF8.self)
            }
        }

        // The destination reads nothing. The sender must stall once the windows, watermarks
        // and socket buffers on the way are full: the tunnel must not buffer without limit.
        var stalledAt = -1
        var previous = -1
        for _ in 0..<100 {
            try await Task.sleep(nanoseconds: 100_000_000)
            let now = socket.bytesSent.withLockedValue { $0 }
            if now == previous, now > 0 {
                stalledAt = now
                break
            }
            previous = now
        }
        let rssStalled = residentMemoryBytes()
        print("1 GiB test: the sender stalled after \(stalledAt >> 10) KiB; process RSS grew \((rssStalled - rssBefore) >> 10) KiB")
        #expect(stalledAt > 0, "the sender never stalled while the destination read nothing")
        #expect(stalledAt < 64 << 20, "the tunnel accepted \(stalledAt >> 20) MiB for a reader that reads nothing")
        #expect(rssStalled - rssBefore < 96 << 20, "resident memory grew by \((rssStalled - rssBefore) >> 20) MiB while stalled")

        sink.resumeReading()
        let reply = try await sender.value
        #expect(reply == "\(total) \(expectedDigest)\n")
        await sink.close()
        await mesh.shutdown()
    }

    // MARK: - Response codes

    @Test func deniedConnectGets401() async throws {
        let mesh = try await TunnelHarness(decide: { _ in .deny(reason: "policy says no") })
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(9)) } catch let error as TunnelError {
                #expect(error.code == .denied)
                #expect(!error.message.contains("policy says no"), "a denied peer must learn nothing about policy")
                throw error
            }
        }
        let record = try #require(try await mesh.waitForRecords(1).first)
        #expect(record.outcome == .refused(status: 401, reason: "policy says no"))
        await mesh.shutdown()
    }

    @Test func unknownDestinationGets503WithTheReason() async throws {
        let mesh = try await TunnelHarness(decide: { _ in .unavailable(reason: "no workload at that address") })
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(9)) } catch let error as TunnelError {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("no workload at that address"))
                throw error
            }
        }
        await mesh.shutdown()
    }

    @Test func upstreamConnectFailureGets503() async throws {
        let mesh = try await TunnelHarness()
        let closedPort = try await unusedPort()
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(closedPort)) } catch let error as TunnelError {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("cannot connect to"))
                throw error
            }
        }
        await mesh.shutdown()
    }

    @Test func malformedConnectGets400() async throws {
        let mesh = try await TunnelHarness(decide: { _ in .reject(reason: "authority must be an IP") })
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: HostPort(host: "example", port: 80)) } catch let error as TunnelError {
                #expect(error.code == .badRequest)
                throw error
            }
        }
        await mesh.shutdown()
    }

    @Test func aRefusedStreamLeavesTheConnectionUsable() async throws {
        let mesh = try await TunnelHarness(threads: 1)
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        _ = try? await mesh.open(authority: .loopback(try await unusedPort()))
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))
        let reply = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: forwarder.localAddress.port!)
            try socket.send("after a 503")
            socket.shutdownWrite()
            return String(decoding: try socket.readToEnd(), as: UTF8.self)
        }
        #expect(reply == "after a 503")
        #expect(mesh.client.connectionCount == 1)
        await app.close()
        await mesh.shutdown()
    }
}

// MARK: - Helpers

/// A loopback port nothing listens on (bound, then released).
func unusedPort() async throws -> Int {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let channel = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    try await group.shutdownGracefully()
    return port
}

/// The process's anonymous resident memory (`RssAnon`): what buffering would grow. Not
/// `VmRSS`, which also counts file-backed pages: the first run of a code path faults in
/// pages of the (large, debug) test binary, and one CI run saw VmRSS grow by 270 MB while
/// the sender had sent only 17 MB, so that growth could not be the tunnel's buffering.
func residentMemoryBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    var fallback = 0
    for line in status.split(separator: "\n") {
        let kb = (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
        if line.hasPrefix("RssAnon:") { return kb }
        if line.hasPrefix("VmRSS:") { fallback = kb }
    }
    return fallback
}

import Foundation
