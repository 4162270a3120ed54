#!/usr/bin/env bash
# Ambit's quickstart: on a fresh machine, installs what it needs, builds in release mode
# and shows the mesh working:
#
# 1. the tunnel demo: two workloads with different SPIFFE identities talk through HBONE
#    (HTTP/2 CONNECT over mutual TLS 1.3); it prints both verified identities, the bytes
#    moved and the throughput;
# 2. as root: two nodes and two pods built from network namespaces; `ambit control` (the
#    registry, CA and config push); one `ambit node` per node, joined with a one-time
#    token; the mesh applied with `ambit apply`; and a pod on node1 talking to a pod on
#    node2 through the mesh;
# 3. as root: L7 on top: a waypoint for the namespace (joined with its own token), a cart
#    service in two versions, a 90/10 canary HTTPRoute with retries, and 500 requests
#    through it: the split observed, the retries taken, the latency.
#
#   scripts/quickstart.sh [--megabytes N]   # run it (again: it cleans up the last run)
#   scripts/quickstart.sh --down            # remove what the node demo made
#   scripts/quickstart.sh --ci              # (root) the mesh and L7 parts with the debug build
#                                           # scripts/test.sh made, the summary checked, then --down
#
# Safe to run again: the build is incremental and each run starts from nothing.
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
    --down) mesh_demo_down; say "removed the node demo's namespaces and processes"; exit 0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done

# The smaller mode CI runs: the binaries scripts/test.sh just built (debug), the two-node
# mesh and the waypoint with its canary, and a check of what the summary would show.
if $ci; then
  [ "$(id -u)" -eq 0 ] || die "--ci builds network namespaces: run it as root"
  bin=$(swift build --show-bin-path)/ambit
  testapp=$(swift build --show-bin-path)/ambit-testapp
  [ -x "$bin" ] && [ -x "$testapp" ] || die "--ci uses the debug build: run swift build --build-tests first (scripts/test.sh does)"
  trap mesh_demo_down EXIT
  say "quickstart (CI mode): control plane, two nodes joined by token, a waypoint, a 90/10 canary with retries"
  mesh_demo_up "$bin" --control
  reply=$(mesh_demo_send 10.96.0.20:80 "hello via the VIP")
  [ "$reply" = "hello via the VIP" ] || die "web -> api through the mesh answered '$reply'"
  mesh_demo_waypoint "$testapp"
  qs_ns web "$testapp" load --url http://10.96.0.30/ --requests 500 --concurrency 4 | tee "$QS_DIR/load.txt" | sed 's/^/    /'
  ok=$(sed -n 's/^status:.*200=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
  v2=$(sed -n 's/^x-ambit-version:.*v2=\([0-9]*\).*/\1/p' "$QS_DIR/load.txt")
  retries=$(qs_ns waypoint curl -s localhost:15020/metrics \
    | sed -n 's/^ambit_waypoint_upstream_rq_retry_total{destination_service="cart-v1[^}]*} \([0-9]*\).*/\1/p')
  [ "${ok:-0}" -ge 450 ] || die "the retries should hide most of v1's failures: only ${ok:-0} of 500 requests got 200"
  [ "${v2:-0}" -ge 15 ] && [ "${v2:-0}" -le 90 ] || die "a 90/10 split sent ${v2:-0} of 500 requests to v2"
  [ "${retries:-0}" -gt 0 ] || die "the waypoint reports no retries for cart-v1"
  grep -q '"source_principal":"spiffe://cluster.local/ns/shop/sa/web"' "$QS_DIR/waypoint.log" \
    || die "the waypoint's access log does not show web's verified identity"
  grep -q 'reporter=destination mode=hbone .*src.identity=spiffe://cluster.local/ns/shop/sa/web' "$QS_DIR/node2.log" \
    || die "node2 did not log web's connection as HBONE (mTLS) with web's identity"
  if grep -q 'reporter=destination mode=plaintext' "$QS_DIR/node2.log"; then die "a connection reached node2's pods without mTLS"; fi
  qs_ambit status | grep -q "waypoint shop/waypoint: connected, in sync" || die "ambit status does not show the waypoint in sync"
  say "quickstart (CI mode) passed: 200=$ok/500, v2=$v2/500, $retries retries, every connection mTLS"
  exit 0
fi

ensure_swift
ensure_debian_packages ca-certificates
[ "$(id -u)" -eq 0 ] && ensure_debian_packages libnftables-dev nftables iproute2 python3 curl
[ "$(id -u)" -eq 0 ] || ensure_debian_packages libnftables-dev
mkdir -p .build
run_logged "building ambit (release; the first build takes several minutes)" .build/quickstart-build.log \
  swift build -c release --product ambit
bin=$(swift build -c release --show-bin-path)/ambit
if [ "$(id -u)" -eq 0 ]; then
  run_logged "building ambit-testapp, the demo's HTTP service (release)" .build/quickstart-build.log \
    swift build -c release --product ambit-testapp
  testapp=$(swift build -c release --show-bin-path)/ambit-testapp
fi

say "running the tunnel demo"
"$bin" demo tunnel --megabytes "$megabytes"
if [ "$(id -u)" -ne 0 ]; then
  say "skipping the two-node demo: it builds network namespaces and needs root (sudo scripts/quickstart.sh)"
else
  say "two nodes, two pods: web (node1) and api (node2); ambit control; one ambit node per node, joined with a token"
  mesh_demo_up "$bin" --control
  say "the control plane's view (ambit get workloads -n shop -o wide):"
  qs_ambit get workloads -n shop -o wide | sed 's/^/    /'

  say "web -> api (10.244.2.2:8080) through the mesh:"
  printf '    reply: %s\n' "$(mesh_demo_send 10.244.2.2:8080 "hello from web")"
  say "web -> the api Service VIP (10.96.0.20:80):"
  printf '    reply: %s\n' "$(mesh_demo_send 10.96.0.20:80 "hello via the VIP")"
  sleep 0.5
  say "node2's access log (the server side): the client's identity, verified by mTLS"
  grep 'reporter=destination' "$QS_DIR/node2.log" | sed 's/^/    /' | head -2
  say "the rules the daemon put in pod web (ip netns exec $QS_PREFIX-web nft list ruleset):"
  qs_ns web nft list ruleset | sed 's/^/    /'
  say "node2's metrics (ip netns exec $QS_PREFIX-node2 curl localhost:15020/metrics):"
  qs_ns node2 python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:15020/metrics").read().decode())' \
    | grep '^istio_tcp_connections_opened_total' | sed 's/^/    /' | head -2
  say "L7: a waypoint for namespace shop, cart v1 (fails 20 % of requests) and v2, a 90/10 canary route with retries"
  mesh_demo_waypoint "$testapp"
  say "500 requests from web to cart (10.96.0.30), through node1 -> waypoint -> node2:"
  qs_ns web "$testapp" load --url http://10.96.0.30/ --requests 500 --concurrency 4 | sed 's/^/    /'
  say "retries the waypoint took to hide v1's failures (its /metrics):"
  qs_ns waypoint curl -s localhost:15020/metrics | grep -E '^ambit_waypoint_upstream_rq_(retry_)?total' | sed 's/^/    /'
  say "one request as the waypoint logged it (client identity, route, upstream, flags):"
  grep '"path"' "$QS_DIR/waypoint.log" | tail -1 | sed 's/^/    /'
  say "each node's and the waypoint's sync state (ambit status):"
  qs_ambit status | sed 's/^/    /'
  cat <<TXT

The mesh is still running. Look around:
  export AMBITCONFIG=$QS_DIR/control/admin.ambitconfig                  # then, in node1's namespace:
  ip netns exec $QS_PREFIX-node1 $bin get services -n shop             # ambit get / apply / label / delete
  ip netns exec $QS_PREFIX-node1 curl -s localhost:15000/config_dump    # what node1 knows
  ip netns exec $QS_PREFIX-node2 curl -s localhost:15000/certs          # its workload certificates
  tail -f $QS_DIR/node2.log                                               # access log
  tail -f $QS_DIR/waypoint.log                                            # the waypoint's per-request log
  ip netns exec $QS_PREFIX-waypoint curl -s localhost:15020/metrics       # istio_requests_total, retries
Tear it down with: scripts/quickstart.sh --down
TXT
fi
cat <<TXT

Try the tunnel by hand next (see docs/tunnel.md):
  $bin dev-ca init --dir /tmp/ambit-ca
  $bin dev-ca issue --dir /tmp/ambit-ca --id spiffe://cluster.local/ns/demo/sa/server --out /tmp/server
  $bin dev-ca issue --dir /tmp/ambit-ca --id spiffe://cluster.local/ns/demo/sa/client --out /tmp/client
  $bin tunnel server --listen 127.0.0.1:15008 --cert /tmp/server.crt --key /tmp/server.key --trust-bundle /tmp/ambit-ca/root-cert.pem
  $bin tunnel client --listen 127.0.0.1:15001 --server 127.0.0.1:15008 --server-id spiffe://cluster.local/ns/demo/sa/server \\
      --target 127.0.0.1:8080 --cert /tmp/client.crt --key /tmp/client.key --trust-bundle /tmp/ambit-ca/root-cert.pem
TXT
