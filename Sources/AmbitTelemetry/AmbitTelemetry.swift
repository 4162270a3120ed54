// AmbitTelemetry is how Ambit's daemons report: a metrics registry exposed as Prometheus
// text under Istio's metric names, one access-log line per connection or request, and the
// small HTTP server behind /metrics, readiness and the admin endpoints.
//
// Map of the module:
// - Metrics/: `MetricsRegistry` and its counter, gauge and histogram families; the
//   Prometheus text exposition (format 0.0.4) lives in PrometheusText.swift.
// - AccessLog/: `AccessLogRecord` (ordered fields), `AccessLogFormat` (logfmt or JSON) and
//   the sinks that write one whole line per write(2).
// - Admin/: `AdminHTTPServer`, a tiny HTTP/1.1 server, and the `AdminRoutes` it serves.
