#!/usr/bin/env python3
"""A minimal OTLP/gRPC trace receiver for Ambit's tests.

It serves opentelemetry.proto.collector.trace.v1.TraceService/Export, built from the
official OpenTelemetry protos (PyPI `opentelemetry-proto`) and `grpcio`, so a span that
arrives here was encoded by a real OTLP exporter and decoded by the reference schema.
Each span is appended to --out as one JSON line:

  {"trace_id": hex, "span_id": hex, "parent_span_id": hex or "", "name": str,
   "kind": str, "service_name": str, "start_time_unix_nano": int,
   "end_time_unix_nano": int, "status_code": str, "attributes": {key: value}}

It listens on loopback only. Once the port is bound it writes "ready <port>" to
--ready-file (and stdout), so a test can wait for that instead of sleeping; with --port 0
the kernel picks the port and the file says which. SIGTERM/SIGINT stop it cleanly.

Install its packages with `ensure_otlp_receiver` from scripts/lib/common.sh.
"""

import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

try:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    from opentelemetry.proto.trace.v1 import trace_pb2
except ImportError as error:  # pragma: no cover - the message is the point
    sys.stderr.write(
        f"otlp_receiver: missing Python package ({error}); run "
        "`source scripts/lib/common.sh && ensure_otlp_receiver` to install "
        "opentelemetry-proto and grpcio into .build/otlp-receiver-venv\n"
    )
    sys.exit(3)


def any_value(value):
    """An OTLP AnyValue as the plain JSON value it carries."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, out_path):
        self._out_path = out_path
        self._lock = threading.Lock()

    def Export(self, request, context):
        lines = []
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            service_name = resource.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                        "service_name": service_name,
                        "start_time_unix_nano": span.start_time_unix_nano,
                        "end_time_unix_nano": span.end_time_unix_nano,
                        "status_code": trace_pb2.Status.StatusCode.Name(span.status.code),
                        "attributes": attributes(span.attributes),
                        "resource": resource,
                    }, sort_keys=True))
        # One write per batch under a lock, flushed, so a reader never sees half a line.
        with self._lock, open(self._out_path, "a", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
            out.flush()
        return trace_service_pb2.ExportTraceServiceResponse()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 lets the kernel choose")
    parser.add_argument("--out", required=True, help="file that receives one JSON line per span")
    parser.add_argument("--ready-file", help="file that receives 'ready <port>' once listening")
    args = parser.parse_args()

    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        parser.error(f"--host {args.host} is not a loopback address; the receiver is for local tests only")

    open(args.out, "a", encoding="utf-8").close()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(args.out), server)
    host = f"[{args.host}]" if ":" in args.host else args.host
    port = server.add_insecure_port(f"{host}:{args.port}")
    if port == 0:
        sys.stderr.write(f"otlp_receiver: cannot bind {args.host}:{args.port} (in use?)\n")
        sys.exit(2)
    server.start()

    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())

    if args.ready_file:
        with open(args.ready_file + ".tmp", "w", encoding="utf-8") as ready:
            ready.write(f"ready {port}\n")
        # Renamed into place so a poller never reads a half-written file.
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(f"ready {port}", flush=True)

    stopped.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
