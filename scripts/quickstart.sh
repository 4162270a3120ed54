#!/usr/bin/env bash
# Ambit's quickstart: on a fresh machine, installs what it needs, builds in release mode
# and shows the whole mesh working, then prints what it saw.
#
# As root (it builds nodes and pods from network namespaces):
#   1. `ambit control` (registry, CA, config push) and two nodes, each running `ambit node`
#      joined with a one-time token;
#   2. the sample application, every pod an HTTP server written in Swift (ambit-testapp):
#      `front` on node1 calls `back` and `api` on node2 for every request, and `back` runs
#      in two versions; namespace shop is labelled ambient, so all of it is in the mesh;
#   3. a waypoint for the namespace (joined with its own token) and a 90/10 canary
#      HTTPRoute for `back`, with retries (v1 fails 10 % of its requests);
#   4. 500 requests from pod `web` to front, and a summary: workloads and their SPIFFE
#      identities, that every connection was mTLS, the split, the retries, p50/p99, and
#      where to look next.
# Without root it runs the tunnel demo only (two identities talking over HBONE).
#
#   sudo scripts/quickstart.sh              # run it (again: each run starts from nothing)
#   sudo scripts/quickstart.sh --down       # remove everything it made
#   sudo scripts/quickstart.sh --ci         # the same with the debug build scripts/test.sh
#                                           # made; the summary checked, then --down
#   scripts/quickstart.sh --megabytes N     # the tunnel demo's size (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/mesh-demo.sh

megabytes=256
ci=false
while [ $# -gt 0 ]; do
  case "$1" in
    --megabytes) megabytes="$2"; shift 2 ;;
    --ci) ci=true; shift ;;
    --down) mesh_demo_down; say "removed the quickstart's namespaces, processes and files"; exit 0 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

steps=6
step_no=0
step() { step_no=$((step_no + 1)); say "[$step_no/$steps] $*"; }

if $ci; then
  [ "$(id -u)" -eq 0 ] || die "--ci builds network namespaces: run it as root"
  bin=$(swift build --show-bin-path)/ambit
  testapp=$(swift build --show-bin-path)/ambit-testapp
  [ -x "$bin" ] && [ -x "$testapp" ] || die "--ci uses the debug build: run swift build --build-tests first (scripts/test.sh does)"
  trap mesh_demo_down EXIT
  say "quickstart (CI mode, debug build)"
else
  ensure_swift
  ensure_debian_packages ca-certificates
  if [ "$(id -u)" -eq 0 ]; then
    ensure_debian_packages libnftables-dev nftables iproute2 python3 curl
  else
    ensure_debian_packages libnftables-dev
  fi
  mkdir -p .build
  run_logged "building ambit (release; the first build takes several minutes)" .build/quickstart-build.log \
    swift build -c release --product ambit
  bin=$(swift build -c release --show-bin-path)/ambit
  if [ "$(id -u)" -ne 0 ]; then
    say "the tunnel demo (the mesh demo builds network namespaces and needs root: sudo scripts/quickstart.sh)"
    "$bin" demo tunnel --megabytes "$megabytes"
    exit 0
  fi
  run_logged "building ambit-testapp, the sample application's HTTP server (release)" .build/quickstart-build.log \
    swift build -c release --product ambit-testapp
  testapp=$(swift build -c release --show-bin-path)/ambit-testapp
fi

step "two nodes (network namespaces), ambit control, and one ambit node per node joined with a one-time token"
mesh_demo_up "$bin" --control "$testapp"

step "the sample application: front (node1) calls back v1 + v2 and api (node2); namespace shop is ambient"
mesh_demo_app
# L4 first: one request from web to api, by name (the node answers mesh names inside the
# pod), over HBONE. front is not called yet: a keep-alive connection it opened now to back
# would keep going straight to back (L4) after the waypoint arrives, as in any mesh.
qs_ns web curl -s -m 10 -o "$QS_DIR/first.json" -w '    web -> http://api.shop.svc.cluster.local/: HTTP %{http_code} (L4 only: HBONE between the nodes)\n' \
  http://api.shop.svc.cluster.local/ || die "web could not reach api through the mesh (logs in $QS_DIR)"
grep -q '"name":"api"' "$QS_DIR/first.json" || die "web -> api answered $(cat "$QS_DIR/first.json")"

step "a waypoint for namespace shop, and a 90/10 canary for back with retries"
mesh_demo_waypoint

step "500 requests from web to front (each one calls back through the waypoint, and api)"
qs_ns web "$testapp" load --url http://10.96.0.10/ --requests 500 --concurrency 4 >"$QS_DIR/load.txt"
sed 's/^/    /' "$QS_DIR/load.txt"

step "collecting what the mesh saw"
sleep 0.5
ok=$(sed -n 's/^status:.*200=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
v1=$(sed -n 's/^x-ambit-upstream:.*back\/v1=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
v2=$(sed -n 's/^x-ambit-upstream:.*back\/v2=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
api=$(sed -n 's/^x-ambit-upstream:.*api\/v1=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
latency=$(sed -n 's/^latency ms: p50 \([0-9.]*\) .*p99 \([0-9.]*\) .*/p50 \1 ms, p99 \2 ms/p' "$QS_DIR/load.txt")
waypoint_metrics=$(qs_ns waypoint curl -s localhost:15020/metrics)
retries=$(printf '%s\n' "$waypoint_metrics" | awk '/^ambit_waypoint_upstream_rq_retry_total\{/ {n += $NF} END {print n + 0}')
attempts=$(printf '%s\n' "$waypoint_metrics" | awk '/^ambit_waypoint_upstream_rq_total\{/ {n += $NF} END {print n + 0}')
# Connections that arrived at pods, by how they came: from both nodes' /metrics.
connections() {  # POLICY
  for node in node1 node2; do qs_ns "$node" curl -s localhost:15020/metrics; done \
    | awk -v p="connection_security_policy=\"$1\"" '/^istio_tcp_connections_opened_total\{/ && /reporter="destination"/ && index($0, p) {n += $NF} END {print n + 0}'
}
mtls=$(connections mutual_tls)
plain=$(connections none)
verified=$(printf '%s\n' "$waypoint_metrics" \
  | awk '/^istio_requests_total\{/ && /source_principal="spiffe:\/\/cluster.local\/ns\/shop\/sa\/front"/ {n += $NF} END {print n + 0}')
qs_ambit status >"$QS_DIR/status.txt"

step "summary"
pct() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "0" }'; }
cat <<TXT

  Workloads and their SPIFFE identities (ambit status):
$(sed -n '/^WORKLOADS/,$p' "$QS_DIR/status.txt" | sed '1d; s/^/    /')

  mTLS: ${mtls} connections arrived at pods over HBONE (mutual TLS, the caller's identity
    verified), ${plain} in plaintext. The waypoint saw front's verified identity on
    ${verified} requests.
  Canary split of back (behind the waypoint), as front saw it: v1 ${v1:-0} ($(pct "$v1" $((${v1:-0} + ${v2:-0}))) %),
    v2 ${v2:-0} ($(pct "$v2" $((${v1:-0} + ${v2:-0}))) %); route weights 90/10. front reached api on ${api:-0}.
  Retries: the waypoint made ${attempts} attempts and retried ${retries} times; ${ok:-0} of 500
    requests got 200 although back v1 fails 10 % of its requests.
  Latency at web (web -> front -> waypoint -> back, and front -> api): ${latency}.

  Look around (as root):
    export AMBITCONFIG=$QS_DIR/control/admin.ambitconfig
    ip netns exec $QS_PREFIX-node1 $bin status                       # nodes, waypoint, workloads, certificates
    ip netns exec $QS_PREFIX-node1 $bin proxy-config node2           # what node2 accepted
    ip netns exec $QS_PREFIX-node1 $bin proxy-config shop/waypoint -o yaml
    ip netns exec $QS_PREFIX-node2 $bin proxy-config --local         # node2's own view (its admin port)
    ip netns exec $QS_PREFIX-waypoint curl -s localhost:15020/metrics  # istio_requests_total, retries
    ip netns exec $QS_PREFIX-node2 curl -s localhost:15020/metrics     # istio_tcp_* from node2
    tail -f $QS_DIR/waypoint.log                                        # one JSON line per request
    tail -f $QS_DIR/node2.log                                           # one line per connection
  Tear it all down: sudo scripts/quickstart.sh --down
  Next: docs/getting-started.md walks through each step; docs/traffic-management.md has more routes.
TXT

if $ci; then
  # The summary, checked.
  [ "${ok:-0}" -ge 470 ] || die "the retries should hide most of v1's failures: only ${ok:-0} of 500 requests got 200"
  [ "${v2:-0}" -ge 15 ] && [ "${v2:-0}" -le 90 ] || die "a 90/10 split sent ${v2:-0} of 500 requests to back v2"
  [ "${api:-0}" -ge 450 ] || die "front reached api on only ${api:-0} of 500 requests"
  [ "${retries:-0}" -gt 0 ] || die "the waypoint reports no retries"
  [ "${verified:-0}" -ge 500 ] || die "the waypoint's metrics show front's verified identity on only ${verified:-0} requests"
  [ "${mtls:-0}" -gt 0 ] && [ "${plain:-0}" -eq 0 ] || die "connections to pods: ${mtls:-0} mTLS, ${plain:-0} plaintext"
  for w in web api front back-v1 back-v2; do
    grep -Eq "^shop +$w +node[12] +yes +spiffe://cluster.local/ns/shop/sa/" "$QS_DIR/status.txt" \
      || die "ambit status does not list $w in the mesh with its identity"
  done
  grep -Eq "^shop +front .*expires in" "$QS_DIR/status.txt" || die "ambit status shows no certificate expiry for front"
  grep -q "waypoint shop/waypoint: connected, in sync" "$QS_DIR/status.txt" || die "ambit status does not show the waypoint in sync"
  [ -n "$latency" ] || die "the load report has no latency line"
  say "quickstart (CI mode) passed: 200=$ok/500, back v2=$v2/500, $retries retries, $mtls mTLS connections and none plaintext"
fi
