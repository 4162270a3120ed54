// AmbitTelemetry is how Ambit's daemons report: a metrics registry exposed as Prometheus
// text under Istio's metric names, one access-log line per connection or request, and the
// small HTTP server behind /metrics, readiness and the admin endpoints.
