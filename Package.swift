// swift-tools-version: 6.1
//
// Ambit: a sidecarless ("ambient") service mesh. One SwiftPM target per concern; see
// README.md and docs/ for the map.
import PackageDescription

let package = Package(
    name: "ambit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ambit", targets: ["ambit"]),
        .executable(name: "ambit-testapp", targets: ["ambit-testapp"]),
        .library(name: "AmbitTesting", targets: ["AmbitTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // Span export for the waypoint; only the OTLP/gRPC exporter, so no HTTP client is built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPGRPC"]),
        // Already in the graph through swift-otel; named so the waypoint can import their modules.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already in the graph through grpc-swift-nio-transport; named for its
        // `CertificateReloader`, how the control plane renews its serving certificate live.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
    ],
    targets: [
        // Resource model, SPIFFE identity, errors shared by every module. No I/O.
        .target(
            name: "AmbitCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // CA, CSRs, certificate store + rotation, TLS contexts, SPIFFE verification.
        .target(
            name: "AmbitIdentity",
            dependencies: [
                "AmbitCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HBONE: HTTP/2 CONNECT over mutual TLS. Server, client pool, byte glue.
        .target(
            name: "AmbitTunnel",
            dependencies: [
                "AmbitCore",
                "AmbitIdentity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libnftables, the library behind the `nft` command (Debian: libnftables-dev).
        .systemLibrary(
            name: "CNFTables",
            pkgConfig: "libnftables",
            providers: [.apt(["libnftables-dev"])]
        ),
        // setns and friends: Linux calls Swift's Glibc module leaves out.
        .target(name: "CAmbitNet"),
        // In-pod redirection: nftables rules applied inside a pod's network namespace,
        // sockets created in that namespace, original destinations.
        .target(
            name: "AmbitRedirect",
            dependencies: [
                "AmbitCore", "CNFTables", "CAmbitNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Metrics registry with Prometheus exposition, access logs, the small HTTP server
        // behind /metrics, readiness and admin endpoints.
        .target(
            name: "AmbitTelemetry",
            dependencies: [
                "AmbitCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // DNS for mesh names: message codec, name table, UDP/TCP server and forwarder.
        .target(
            name: "AmbitDNS",
            dependencies: [
                "AmbitCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The node daemon: enrolment, outbound/inbound/passthrough, L4 authorization.
        .target(
            name: "AmbitNode",
            dependencies: [
                "AmbitCore", "AmbitIdentity", "AmbitTunnel", "AmbitRedirect", "AmbitTelemetry", "AmbitDNS", "AmbitAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The control plane's wire contract: protobuf messages and gRPC service definitions
        // (generated from Protos/ by scripts/generate-protos.sh; the generated code is committed).
        .target(
            name: "AmbitAPI",
            dependencies: [
                "AmbitCore", "AmbitIdentity",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // `ambit control`: durable store, registry, CA service, config push, admin API.
        .target(
            name: "AmbitControl",
            dependencies: [
                "AmbitCore", "AmbitIdentity", "AmbitAPI", "AmbitTelemetry",
                .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `ambit waypoint`: the per-namespace L7 proxy (routing, resilience, L7 policy, tracing).
        .target(
            name: "AmbitWaypoint",
            dependencies: [
                "AmbitCore", "AmbitIdentity", "AmbitTunnel", "AmbitTelemetry", "AmbitAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `ambit install`: systemd units with the least privilege each process needs.
        .target(name: "AmbitInstall"),
        // The test/sample application behind the mesh in tests, the quickstart and the
        // benchmarks (HTTP/1.1, h2c, WebSocket, gRPC Echo, fault knobs), and its load generator.
        .target(
            name: "AmbitTestApp",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "ambit-testapp",
            dependencies: ["AmbitTestApp", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Test-only: applies batches to a store in a loop so a test can kill -9 it mid-write.
        .executableTarget(
            name: "ambit-store-stress",
            dependencies: ["AmbitControl", "AmbitCore"]
        ),
        // The control-plane benchmark (scripts/bench-control.sh): push latency to 1–100
        // in-process nodes, config bytes per node, control-plane memory.
        .executableTarget(
            name: "ambit-bench-control",
            dependencies: [
                "AmbitControl", "AmbitAPI", "AmbitCore", "AmbitIdentity",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Shared test helpers: a fake CA with handy identities, manual clock, byte pumps.
        .target(
            name: "AmbitTesting",
            dependencies: [
                "AmbitCore",
                "AmbitIdentity",
                "AmbitTunnel",
                "AmbitRedirect",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The executable: argument parsing only.
        .executableTarget(
            name: "ambit",
            dependencies: [
                "AmbitCore",
                "AmbitIdentity",
                "AmbitTunnel",
                "AmbitNode", "AmbitControl", "AmbitAPI", "AmbitWaypoint", "AmbitInstall",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "AmbitCoreTests", dependencies: ["AmbitCore"]),
        .testTarget(
            name: "AmbitIdentityTests",
            dependencies: [
                "AmbitIdentity", "AmbitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "AmbitTunnelTests",
            dependencies: [
                "AmbitTunnel", "AmbitIdentity", "AmbitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "AmbitTelemetryTests",
            dependencies: [
                "AmbitTelemetry", "AmbitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AmbitDNSTests",
            dependencies: [
                "AmbitDNS", "AmbitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AmbitNodeTests",
            dependencies: [
                "AmbitNode", "AmbitRedirect", "AmbitCore", "AmbitTesting", "AmbitAPI", "AmbitControl", "AmbitIdentity",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AmbitControlTests",
            dependencies: [
                "AmbitControl", "AmbitAPI", "AmbitCore", "AmbitIdentity", "AmbitTesting",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AmbitWaypointTests",
            dependencies: [
                "AmbitWaypoint", "AmbitCore", "AmbitTesting", "AmbitTunnel", "AmbitIdentity", "AmbitTelemetry", "AmbitAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "AmbitInstallTests", dependencies: ["AmbitInstall", .product(name: "Yams", package: "Yams")]),
        // Real network namespaces, veth links, nftables and daemons: root only.
        .testTarget(
            name: "AmbitIntegrationTests",
            dependencies: [
                "AmbitNode", "AmbitRedirect", "AmbitCore", "AmbitTesting", "AmbitControl", "AmbitAPI", "AmbitWaypoint",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AmbitTestAppTests",
            dependencies: [
                "AmbitTestApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
