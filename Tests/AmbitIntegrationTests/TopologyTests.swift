import AmbitTesting
import Foundation
import Glibc
import Testing

/// Root-only: skipped only when AMBIT_SKIP_ROOT_TESTS=1, and failing with a message that
/// names the missing prerequisite otherwise.
extension Trait where Self == ConditionTrait {
    static var needsRoot: Self {
        .disabled(if: Topology.rootTestsSkipped, "AMBIT_SKIP_ROOT_TESTS=1 skips root-only topology tests")
    }
}

@Suite("Topology builder", .needsRoot)
struct TopologyTests {
    @Test("pods reach pods on another node through the fabric, and on their own node through the node")
    func podToPod() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "sa1")
            let neighbour = try await node1.addPod("neighbour", namespace: "ns1")
            let server = try await node2.addPod("server", namespace: "ns2", serviceAccount: "sa2", labels: ["app": "echo"])

            #expect(node1.ip == "10.250.0.1" && node2.ip == "10.250.0.2")
            #expect([client.ip, neighbour.ip, server.ip] == ["10.244.1.1", "10.244.1.2", "10.244.2.1"])
            #expect(server.node === node2 && server.labels == ["app": "echo"] && server.serviceAccount == "sa2")
            #expect(node1.pods.map(\.name) == ["client", "neighbour"])
            #expect(FileManager.default.fileExists(atPath: client.netnsPath))
            #expect(client.netnsName.hasPrefix(topology.prefix) && node1.netnsName.hasPrefix(topology.prefix))

            let remote = try await server.serve(.echo, port: 8080)
            let local = try await neighbour.serve(.echo, port: 8080)
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "across the fabric") == "across the fabric")
            #expect(try await client.roundTrip(to: neighbour.ip, port: 8080, sending: "next door") == "next door")
            #expect(remote.connectionsAccepted == 1)
            #expect(local.connectionsAccepted == 1)
        }
    }

    @Test("a capture on node1's fabric veth sees the cross-node payload, and only that")
    func captureOnTheFabric() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client")
            let neighbour = try await node1.addPod("neighbour")
            let server = try await node2.addPod("server")
            _ = try await server.serve(.echo, port: 8080)
            _ = try await neighbour.serve(.echo, port: 8080)

            let capture = try await node1.capture(filter: ["tcp"])
            #expect(capture.interface == node1.fabricInterface)
            _ = try await client.roundTrip(to: server.ip, port: 8080, sending: "plaintext-across-nodes")
            _ = try await client.roundTrip(to: neighbour.ip, port: 8080, sending: "plaintext-same-node")
            let traffic = try await capture.stop()

            // No mesh yet, so the payload crosses the fabric in the clear: this proves the
            // capture sees node-to-node traffic, which mesh tests then assert is TLS only.
            #expect(traffic.contains("plaintext-across-nodes"))
            // Same-node traffic never leaves the node.
            #expect(!traffic.contains("plaintext-same-node"))
            #expect(traffic.packets.count >= 6, "a TCP exchange is at least a handshake, data and FINs")
        }
    }

    @Test("a sink in a pod reports what a pod on another node sent")
    func sinkAcrossNodes() async throws {
        try await withTopology { topology in
            let client = try await topology.addNode("node1").addPod("client")
            let server = try await topology.addNode("node2").addPod("server")
            let sink = try await server.serve(.sink, port: 9000)
            let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }

            let socket = try await client.connect(to: server.ip, port: 9000)
            let reply = try await BlockingSocket.run {
                try payload.withUnsafeBytes { try socket.send($0) }
                socket.shutdownWrite()
                return try socket.readToEnd()
            }
            let expected = "\(payload.count) \(sha256Hex(payload))"
            #expect(String(decoding: reply, as: UTF8.self) == expected + "\n")
            try await waitUntil("the sink records its result") { !sink.sinkResults.isEmpty }
            #expect(sink.sinkResults.map(\.description) == [expected])
        }
    }

    @Test("commands run inside pods and nodes see their own namespace's addresses and routes")
    func commandsRunInside() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let pod = try await node2.addPod("pod")

            let address = try await pod.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).checked()
            #expect(address.stdout.contains("10.244.2.1/32"))
            let podRoutes = try await pod.run(["ip", "route"]).checked()
            #expect(podRoutes.stdout.contains("default via 169.254.1.1 dev eth0"))
            let routes = try await node1.run(["ip", "route"]).checked()
            #expect(routes.stdout.contains("10.244.2.0/24 via 10.250.0.2 dev fabric0"))
            let forwarding = try await node1.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).checked()
            #expect(forwarding.stdout == "1\n")

            let failing = try await pod.run(["sh", "-c", "echo oops >&2; exit 3"])
            #expect(failing.status == .exited(3) && failing.stderr == "oops\n")
            #expect(throws: TestFailure.self) { try failing.checked() }
        }
    }

    @Test("destroy kills spawned processes and their children and removes every namespace")
    func destroyLeavesNothing() async throws {
        let topology = try await Topology.make()
        let node = try await topology.addNode("node1")
        let pod = try await node.addPod("pod")
        _ = try await pod.serve(.echo, port: 8080)
        let daemon = try node.spawn(["sleep", "600"])
        // A shell whose child would outlive it if teardown signalled only the shell.
        let shell = try pod.spawn(["sh", "-c", "sleep 600 & echo $!; wait"])
        try await waitUntil("the shell reports its child's pid") { shell.stdout.hasSuffix("\n") }
        let grandchild = try #require(pid_t(shell.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon.isRunning && shell.isRunning)

        try await topology.destroy()
        try await topology.destroy()  // idempotent

        #expect(daemon.exitStatus == .signalled(SIGTERM))
        #expect(shell.exitStatus == .signalled(SIGTERM))
        try await waitUntil("the shell's child is gone") { kill(grandchild, 0) != 0 && errno == ESRCH }
        let listed = try await runOnHost(["ip", "netns", "list"])
        #expect(!listed.contains(topology.prefix), "left behind: \(listed)")
        await #expect(throws: TestFailure.self) { try await topology.addNode("late") }
    }

    @Test("namespaces left by dead test processes are swept; live ones are not")
    func sweep() async throws {
        // A pid that was alive a moment ago and is reaped now, so it names a dead run.
        let gone = try TestProcess.spawn(["true"], outputPrefix: NSTemporaryDirectory() + "ambit-sweep-probe-\(getpid())")
        try await gone.waitForExit(timeout: 10)
        try? FileManager.default.removeItem(atPath: gone.stdoutPath)
        try? FileManager.default.removeItem(atPath: gone.stderrPath)
        let leftover = "amb-\(gone.pid)-1-node1"
        _ = try await runOnHost(["ip", "netns", "add", leftover])

        try await withTopology { live in
            await Topology.sweepLeftovers()
            #expect(!FileManager.default.fileExists(atPath: "/var/run/netns/\(leftover)"))
            #expect(FileManager.default.fileExists(atPath: live.fabricNetnsPath), "a live process's namespaces stay")
        }
    }
}

@Suite("Topology prerequisites")
struct TopologyPrerequisiteTests {
    @Test("a missing tool and missing root are named, with the fix and the way to skip")
    func missingPrerequisites() throws {
        let directory = NSTemporaryDirectory() + "ambit-fake-path-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for tool in ["ip", "tcpdump"] {
            _ = FileManager.default.createFile(atPath: "\(directory)/\(tool)", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }

        let error = #expect(throws: TopologyUnavailable.self) {
            try TopologyRequirements.verify(environment: ["PATH": directory], effectiveUserID: 1000)
        }
        let message = error?.description ?? ""
        #expect(error?.missing.count == 2)
        #expect(message.contains("need root"))
        #expect(message.contains("`nft` is not on PATH (\(directory))"))
        #expect(message.contains("apt-get install -y nftables"))
        #expect(message.contains("AMBIT_SKIP_ROOT_TESTS=1"))
        #expect(!message.contains("`tcpdump`") && !message.contains("`ip`"))

        #expect(TopologyRequirements.missing(environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], effectiveUserID: 0).isEmpty)
        #expect(TopologyRequirements.skipRequested(environment: ["AMBIT_SKIP_ROOT_TESTS": "1"]))
        #expect(!TopologyRequirements.skipRequested(environment: ["AMBIT_SKIP_ROOT_TESTS": "0"]))
    }

    @Test("terminate escalates to SIGKILL when the process group ignores SIGTERM")
    func terminateEscalates() async throws {
        let process = try TestProcess.spawn(
            ["sh", "-c", "trap '' TERM; echo ready; sleep 600"], outputPrefix: NSTemporaryDirectory() + "ambit-stubborn-\(getpid())")
        defer {
            try? FileManager.default.removeItem(atPath: process.stdoutPath)
            try? FileManager.default.removeItem(atPath: process.stderrPath)
        }
        try await waitUntil("the shell has set its trap") { process.stdout == "ready\n" }
        #expect(await process.terminate(grace: 0.3) == .signalled(SIGKILL))
        #expect(!process.isRunning)
    }
}

/// Runs a command in the test's own namespace (only `ip netns` bookkeeping) and returns
/// its stdout, failing on a non-zero exit.
private func runOnHost(_ command: [String]) async throws -> String {
    let process = try TestProcess.spawn(command, outputPrefix: NSTemporaryDirectory() + "ambit-host-\(getpid())-\(UUID().uuidString)")
    defer {
        try? FileManager.default.removeItem(atPath: process.stdoutPath)
        try? FileManager.default.removeItem(atPath: process.stderrPath)
    }
    let status = try await process.waitForExit(timeout: 30)
    guard status.succeeded else { throw TestFailure("`\(command.joined(separator: " "))` ended with \(status): \(process.stderr)") }
    return process.stdout
}
