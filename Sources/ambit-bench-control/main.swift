// Control-plane benchmark (issue 4, item 8): how long a change takes to reach every node,
// how many bytes each node receives, and how much memory the control plane needs.
//
//     ambit-bench-control [--nodes 1,10,100] [--workloads-per-node 10] [--services 20]
//                         [--rounds 20] [--light-nodes 100]
//                         [--ambit PATH --memory-workloads 10000 --memory-nodes 10]
//
// Propagation: a real `ControlPlane` in this process (store on disk, mutual TLS on
// 127.0.0.1), N node clients (`ControlPlaneClient`, each its own node identity, each
// validating every push as the node daemon does). Each round applies a changed
// AuthorizationPolicy through the registry (the same call `ambit apply` ends in) and
// stops the clock when the control plane has recorded every node's ACK of it.
// --light-nodes N repeats the run for N nodes whose clients ACK without building a
// snapshot: all clients share this machine's cores, so this separates what the control
// plane costs from what N nodes validating on one machine cost.
// Memory: see MemoryRun (needs --ambit, the binary to measure).
import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import Foundation
import Logging

struct Options {
    var nodes = [1, 10, 100]
    var workloadsPerNode = 10
    var services = 20
    var rounds = 20
    var ambit: String?
    var memoryWorkloads = 10_000
    var memoryNodes = 10
    var lightNodes: [Int] = [100]

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw BenchError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func int() throws -> Int {
            let v = try value()
            guard let n = Int(v), n > 0 else { throw BenchError("\(args[i - 1]) needs a positive integer, got '\(v)'") }
            return n
        }
        while i < args.count {
            switch args[i] {
            case "--nodes": nodes = try value().split(separator: ",").map { s in
                guard let n = Int(s), n > 0 else { throw BenchError("--nodes takes a comma-separated list of counts, e.g. 1,10,100") }
                return n
            }
            case "--workloads-per-node": workloadsPerNode = try int()
            case "--services": services = try int()
            case "--rounds": rounds = try int()
            case "--ambit": ambit = try value()
            case "--memory-workloads": memoryWorkloads = try int()
            case "--memory-nodes": memoryNodes = try int()
            case "--light-nodes": lightNodes = try value().split(separator: ",").compactMap { Int($0) }
            default: throw BenchError("unknown argument '\(args[i])'; see the comment at the top of Sources/ambit-bench-control/main.swift")
            }
            i += 1
        }
    }
}

struct PropagationResult {
    var nodes = 0
    var workloads = 0
    var initialSync = 0.0
    var latencies: [Double] = []
    var initialBytes = (bytes: 0, resources: 0)
    var changeBytes = (bytes: 0, resources: 0)

    func percentile(_ p: Double) -> Double {
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
    }
}

func propagation(nodes: Int, validate: Bool = true, options: Options) async throws -> PropagationResult {
    let mesh = BenchMesh(nodes: nodes, workloadsPerNode: options.workloadsPerNode, services: options.services)
    let dir = NSTemporaryDirectory() + "ambit-bench-control-\(getpid())-\(nodes)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let port = try freePorts()
    var configuration = ControlPlane.Configuration(dataDirectory: dir)
    configuration.listen = HostPort(host: "127.0.0.1", port: port)
    configuration.joinListen = HostPort(host: "127.0.0.1", port: port + 1)
    var quiet = Logger(label: "ambit.bench.control")
    quiet.logLevel = .warning
    let plane = try await ControlPlane.start(configuration, logger: quiet)
    let serving = Task { try await plane.run() }
    defer { serving.cancel() }
    _ = try await plane.boundPorts()
    for (i, batch) in mesh.batches(of: 1000).enumerated() { _ = try plane.registry.apply(batch, file: "bench-\(i).yaml") }

    var result = PropagationResult(nodes: nodes, workloads: mesh.workloadCount)
    let fleet = try await NodeFleet(
        count: nodes, host: "127.0.0.1", port: port, trustBundle: plane.certificates.ca.trustBundle, identities: plane.identities,
        validate: validate
    ) { csrPEM, node in
        // The CA service's own join path, minus the network: token, CSR, signed chain.
        let token = try plane.certificates.tokens.create(.node(name: node))
        return try await plane.certificates.join(token: token, csrPEM: csrPEM).map { try $0.serializeAsPEM().pemString }
    }
    let started = Date()
    fleet.start()
    try await waitForACKs(push: plane.push, nodes: nodes, typeURLs: ResourceTypes.node, revision: plane.registry.revision)
    result.initialSync = Date().timeIntervalSince(started)

    var bytes = try ConfigBytes(registry: plane.registry, identities: plane.identities, node: BenchMesh.nodeName(0))
    result.initialBytes = try await bytes.initialSync()
    for round in 1...options.rounds {
        let t0 = Date()
        _ = try plane.registry.apply(mesh.policy(round: round), file: "policy.yaml")
        try await waitForACKs(push: plane.push, nodes: nodes, typeURLs: [ResourceTypes.authorizationPolicy], revision: plane.registry.revision)
        result.latencies.append(Date().timeIntervalSince(t0))
        if round == 1 { result.changeBytes = try await bytes.change() }
    }
    await fleet.stop()
    serving.cancel()
    _ = await serving.result
    return result
}

func ms(_ s: Double) -> String { String(format: "%.1f", s * 1000) }
func mib(_ b: Int) -> String { String(format: "%.1f", Double(b) / 1_048_576) }
func kib(_ b: Int) -> String { String(format: "%.1f", Double(b) / 1024) }

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    print("## Propagation: apply → every node has ACKed (\(options.rounds) rounds each; \(options.workloadsPerNode) workloads per node, \(options.services) services)\n")
    print("| nodes | workloads | initial sync, all nodes | p50 | p90 | max | initial config / node | one change / node |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (n, validate) in options.nodes.map({ ($0, true) }) + options.lightNodes.map({ ($0, false) }) {
        let r = try await propagation(nodes: n, validate: validate, options: options)
        print(
            "| \(r.nodes)\(validate ? "" : " (ACK without validating)") | \(r.workloads) | \(ms(r.initialSync)) ms | \(ms(r.percentile(0.5))) ms | \(ms(r.percentile(0.9))) ms | \(ms(r.latencies.max() ?? 0)) ms | \(kib(r.initialBytes.bytes)) KiB (\(r.initialBytes.resources) resources) | \(r.changeBytes.bytes) B (\(r.changeBytes.resources) resource) |"
        )
    }
    if let ambit = options.ambit {
        let nodes = options.memoryNodes
        let mesh = BenchMesh(nodes: nodes, workloadsPerNode: max(1, options.memoryWorkloads / nodes), services: 100)
        let m = try await MemoryRun(ambit: ambit, mesh: mesh).run()
        print("\n## Control-plane memory (`ambit control` process; \(mesh.workloadCount) workloads, 100 services, \(nodes) node clients each holding all of them)\n")
        print("| idle | \(mesh.workloadCount) workloads stored | and pushed to \(nodes) nodes | peak (VmHWM) | apply (batches of 1000) | sync of \(nodes) nodes | restart (reopen store) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(
            "| \(mib(m.idleRSS)) MiB | \(mib(m.storedRSS)) MiB | \(mib(m.pushedRSS)) MiB | \(mib(m.peakRSS)) MiB | \(ms(m.applySeconds)) ms | \(ms(m.syncSeconds)) ms | \(ms(m.restartSeconds)) ms |"
        )
    }
} catch {
    FileHandle.standardError.write(Data("ambit-bench-control: \(error)\n".utf8))
    exit(1)
}
