#!/usr/bin/env bash
# Ambit's quickstart: on a fresh machine, installs what it needs, builds in release mode
# and runs the tunnel demo: two workloads with different SPIFFE identities talk through
# HBONE (HTTP/2 CONNECT over mutual TLS 1.3), and the demo prints both verified
# identities, the bytes moved and the throughput.
#
#   scripts/quickstart.sh [--megabytes N]
#
# Safe to run again: the build is incremental and the demo makes fresh identities each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

megabytes=256
while [ $# -gt 0 ]; do
  case "$1" in
    --megabytes) megabytes="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

ensure_swift
ensure_debian_packages ca-certificates
mkdir -p .build
run_logged "building ambit (release; the first build takes several minutes)" .build/quickstart-build.log \
  swift build -c release --product ambit
bin=$(swift build -c release --show-bin-path)/ambit

say "running the tunnel demo"
"$bin" demo tunnel --megabytes "$megabytes"
cat <<TXT

Try it by hand next (see docs/tunnel.md):
  $bin dev-ca init --dir /tmp/ambit-ca
  $bin dev-ca issue --dir /tmp/ambit-ca --id spiffe://cluster.local/ns/demo/sa/server --out /tmp/server
  $bin dev-ca issue --dir /tmp/ambit-ca --id spiffe://cluster.local/ns/demo/sa/client --out /tmp/client
  $bin tunnel server --listen 127.0.0.1:15008 --cert /tmp/server.crt --key /tmp/server.key --trust-bundle /tmp/ambit-ca/root-cert.pem
  $bin tunnel client --listen 127.0.0.1:15001 --server 127.0.0.1:15008 --server-id spiffe://cluster.local/ns/demo/sa/server \\
      --target 127.0.0.1:8080 --cert /tmp/client.crt --key /tmp/client.key --trust-bundle /tmp/ambit-ca/root-cert.pem
TXT
