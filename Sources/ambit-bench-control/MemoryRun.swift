import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import Foundation
import Glibc
import X509

/// Control-plane memory with a large mesh stored and pushed: the real `ambit control`
/// binary as its own process (so its RSS is its own, not this process's), the mesh applied
/// through the admin API as `ambit apply` does, and `nodes` node clients from this process
/// that must each ACK the whole config.
struct MemoryRun {
    struct Result {
        var idleRSS = 0
        var storedRSS = 0
        var pushedRSS = 0
        var peakRSS = 0
        var applySeconds = 0.0
        var syncSeconds = 0.0
        var restartSeconds = 0.0
    }

    let ambit: String
    let mesh: BenchMesh

    func run() async throws -> Result {
        let dir = NSTemporaryDirectory() + "ambit-bench-control-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try freePorts()
        var child = try start(dir: dir, port: port)
        defer { stop(child) }
        var result = Result()
        let admin = try await connect(dir: dir, child: child)
        try await Task.sleep(nanoseconds: 500_000_000)
        result.idleRSS = rss(child.processIdentifier).current

        var started = Date()
        for (i, batch) in mesh.batches(of: 1000).enumerated() {
            _ = try await admin.client.apply(documents: batch, file: "bench-\(i).yaml")
        }
        result.applySeconds = Date().timeIntervalSince(started)
        result.storedRSS = rss(child.processIdentifier).current

        let ca = try CertificateAuthority.load(directory: dir + "/ca", trustDomain: "cluster.local")
        let identities = ControlIdentities(trustDomain: "cluster.local")
        let fleet = try await NodeFleet(
            count: mesh.nodes, host: "127.0.0.1", port: port, trustBundle: ca.trustBundle, identities: identities
        ) { csrPEM, _ in
            try await ca.sign(try CertificateSigningRequest(pemEncoded: csrPEM)) { _ in }.map { try $0.serializeAsPEM().pemString }
        }
        started = Date()
        fleet.start()
        try await waitUntilEveryClientHolds(fleet, workloads: mesh.workloadCount)
        result.syncSeconds = Date().timeIntervalSince(started)
        let pushed = rss(child.processIdentifier)
        result.pushedRSS = pushed.current
        result.peakRSS = pushed.peak
        await fleet.stop()

        // A restart reopens the store (snapshot + log) with everything in it.
        stop(child)
        started = Date()
        child = try start(dir: dir, port: port)
        _ = try await connect(dir: dir, child: child)
        result.restartSeconds = Date().timeIntervalSince(started)
        return result
    }

    private func start(dir: String, port: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ambit)
        p.arguments = [
            "control", "--data-dir", dir, "--listen", "127.0.0.1:\(port)", "--join-listen", "127.0.0.1:\(port + 1)",
            "--advertise", "127.0.0.1:\(port)", "--log-level", "warning",
        ]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func stop(_ p: Process) {
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }

    /// The admin API once it answers (the credentials file appears at first start).
    private func connect(dir: String, child: Process) async throws -> AdminCommands {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard child.isRunning else { throw BenchError("ambit control exited with status \(child.terminationStatus)") }
            if let admin = try? AdminCommands.connect(ambitconfig: dir + "/admin.ambitconfig"), (try? await admin.client.status()) != nil {
                return admin
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw BenchError("ambit control did not answer within 60 s")
    }

    private func waitUntilEveryClientHolds(_ fleet: NodeFleet, workloads: Int) async throws {
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            if fleet.clients.allSatisfy({ $0.accepted.resources[ResourceTypes.workload]?.count == workloads && $0.status.acks >= ResourceTypes.node.count }) {
                return
            }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        throw BenchError("the node clients did not all receive \(workloads) workloads within 300 s")
    }
}

/// VmRSS and VmHWM of a process, in bytes.
func rss(_ pid: pid_t) -> (current: Int, peak: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) * 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

/// Two consecutive free ports on 127.0.0.1 (the control port and the join port after it).
func freePorts() throws -> Int {
    for _ in 0..<50 {
        let port = Int.random(in: 20000..<40000)
        if portIsFree(port) && portIsFree(port + 1) { return port }
    }
    throw BenchError("found no two free consecutive ports on 127.0.0.1")
}

private func portIsFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
