import AmbitCore
import AmbitTelemetry
import AmbitWaypoint
import ArgumentParser

struct Waypoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a waypoint: the L7 proxy of one namespace (routing, retries, timeouts, L7 policy).",
        discussion: """
            Serves the services of --namespace that carry ambit.dev/use-waypoint=<--name> (on the Service or its namespace). \
            Node daemons send their traffic here over HBONE (port 15008); the waypoint serves the HTTP inside and tunnels to the \
            chosen endpoint as spiffe://<trust domain>/ns/<namespace>/sa/<name>. Run it in its own pod: a Workload in --namespace \
            labelled gateway.networking.k8s.io/gateway-name=<name>, so nodes can find it.
            Config comes from exactly one of: --config FILE (YAML or JSON, re-read when it changes; the certificate from the CA \
            in --ca-dir, default the MeshConfig's spec.ca.directory), or --control HOST:PORT (a control plane: the first start \
            joins with --join TOKEN from `ambit control token create --waypoint NS/NAME` and --trust-bundle ROOT; the identity and \
            the last accepted config are then kept in --state-dir).
            --plain-http-listen starts a benchmark/debug listener: plain HTTP in and out, no mTLS, same request path. \
            Keep it on localhost; it exists to compare the L7 engine with Envoy and HAProxy like for like.
            """)

    @Option(help: "The mesh config file to read and watch (instead of --control).")
    var config: String?
    @Option(help: "The control plane's address, HOST:PORT (port 15012), instead of --config.")
    var control: HostPort?
    @Option(help: "A one-time join token (`ambit control token create --waypoint NS/NAME`) for the first start with --control.")
    var join: String?
    @Option(help: "A file holding the join token; read only when the waypoint has not joined yet.")
    var joinFile: String?
    @Option(help: "The mesh root certificate(s), PEM: who the control plane must prove to be when joining.")
    var trustBundle: String?
    @Option(help: "The mesh's trust domain (with --control).")
    var trustDomain = "cluster.local"
    @Option(help: "The control plane's join port (with --control). Default: the control port + 1.")
    var joinPort: Int?
    @Option(help: "The namespace this waypoint serves (its Gateway's namespace).")
    var namespace: String
    @Option(help: "The waypoint's Gateway name: services labelled ambit.dev/use-waypoint=NAME use it; also its service account.")
    var name: String
    @Option(help: "The CA directory (ca-cert.pem, ca-key.pem, root-cert.pem) that signs the waypoint's certificate.")
    var caDir: String?
    @Option(help: "HBONE listen address.")
    var listen = HostPort(host: "0.0.0.0", port: 15008)
    @Option(help: "Benchmark/debug: a plain-HTTP listener, ADDR:PORT (no mTLS; keep it on localhost).")
    var plainHTTPListen: HostPort?
    @Option(help: "Benchmark/debug: where the plain listener sends requests, HOST:PORT (default: the service's endpoints over plain TCP).")
    var plainUpstream: HostPort?
    @Option(help: "Prometheus metrics address (/metrics).")
    var metricsListen = HostPort(host: "0.0.0.0", port: 15020)
    @Option(help: "Readiness address (/healthz/ready).")
    var readinessListen = HostPort(host: "0.0.0.0", port: 15021)
    @Option(help: "Admin address (/config_dump, /certs); keep it on localhost.")
    var admin = HostPort(host: "127.0.0.1", port: 15000)
    @Option(help: "Where the waypoint keeps its identity and last accepted config (with --control).")
    var stateDir = "/var/lib/ambit/waypoint"
    @Option(help: "Seconds open tunnels get to finish on shutdown.")
    var drainSeconds = 5.0
    @Option(help: "Access log format: text, json or off.")
    var accessLog = "text"
    @Option(help: "OTLP/gRPC collector for the waypoint's spans, http://HOST:PORT (usually port 4317); tracing is off without it.")
    var otlpEndpoint: String?
    @Option(help: "Percent of requests without a caller's sampling decision to trace (0-100).")
    var traceSamplePercent = 1.0
    @Option(help: "Event-loop threads.")
    var threads = 1
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try validateConfigSource(
            config: config, control: control, join: join, joinFile: joinFile, trustBundle: trustBundle, what: "the config")
        if plainUpstream != nil && plainHTTPListen == nil {
            throw ValidationError("--plain-upstream goes with --plain-http-listen (the benchmark listener)")
        }
        guard (0...100).contains(traceSamplePercent) else {
            throw ValidationError("--trace-sample-percent must be between 0 and 100, got \(traceSamplePercent)")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        let logger = logging.bootstrap(label: "ambit.waypoint")
        var configuration = WaypointDaemon.Configuration(scope: WaypointScope(namespace: namespace, name: name))
        switch accessLog {
        case "off": configuration.accessLogFormat = nil
        default:
            guard let format = AccessLogFormat(rawValue: accessLog) else {
                throw ValidationError("--access-log must be text, json or off, got '\(accessLog)'")
            }
            configuration.accessLogFormat = format
        }
        configuration.caDirectory = caDir
        configuration.hboneAddress = listen
        configuration.plainHTTPAddress = plainHTTPListen
        configuration.plainUpstream = plainUpstream
        configuration.metricsAddress = metricsListen
        configuration.readinessAddress = readinessListen
        configuration.adminAddress = admin
        configuration.drainSeconds = drainSeconds
        configuration.stateDirectory = stateDir
        configuration.otlpEndpoint = otlpEndpoint
        configuration.traceSamplePercent = traceSamplePercent
        if let config {
            try await readable {
                try await WaypointDaemon.runFromFile(configPath: config, configuration: configuration, threads: threads, logger: logger)
            }
        } else if let control {
            let token = join ?? joinFile.flatMap(Node.readToken)
            try await readable {
                try await WaypointDaemon.runWithControlPlane(
                    control: control, token: token, trustBundle: trustBundle, trustDomain: trustDomain, joinPort: joinPort,
                    configuration: configuration, threads: threads, logger: logger)
            }
        }
    }
}
