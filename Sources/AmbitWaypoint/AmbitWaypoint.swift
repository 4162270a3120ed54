/// `ambit waypoint`: the per-namespace L7 proxy. HBONE in, HBONE out; HTTP/1.1, HTTP/2 and
/// gRPC inside the tunnel, everything else carried as TCP.
///
/// One folder per job:
/// - `Routing/`    HTTPRoute / GRPCRoute matching with Gateway API precedence, weighted backends
/// - `Filters/`    header modifiers, redirects, rewrites, mirrors, fault injection
/// - `Policy/`     L7 AuthorizationPolicy
/// - `Resilience/` retries (backoff, budget), timeouts, connection-pool limits, outlier detection
/// - `Balancing/`  round robin, least request (P2C), random, ring hash, Maglev
/// - `Tracing/`    W3C / B3 propagation, sampling, span export
/// - `Proxy/`      the I/O: HBONE streams in, protocol detection, HTTP codecs, upstream pools
/// - `Telemetry/`  Istio request metrics and the per-request access log
///
/// The pure parts (everything but `Proxy/`) take an injected clock and random source, so
/// their tests run without sockets or sleeps.
public enum AmbitWaypoint {}
