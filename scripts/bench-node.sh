#!/usr/bin/env bash
# What the node daemon costs: the same two pods on two nodes (the quickstart topology),
# measured in one run first without the mesh (pods not enrolled: plain TCP) and then with
# it (both pods enrolled: HBONE between the nodes' daemons).
#
#   sudo scripts/bench-node.sh [--megabytes N] [--connections N]
#
# Prints bulk throughput, short-connection rate and latency, and the daemons' RSS. Quote
# the ratios: the absolute numbers move with the machine and its other load.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/mesh-demo.sh

megabytes=512
connections=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --megabytes) megabytes="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "the benchmark builds network namespaces; run it as root"
ensure_swift
ensure_debian_packages libnftables-dev nftables iproute2 python3
run_logged "building ambit (release)" .build/bench-node-build.log swift build -c release --product ambit
bin=$(swift build -c release --show-bin-path)/ambit

QS_DIR=/tmp/ambit-bench-node
trap mesh_demo_down EXIT
mesh_demo_up "$bin"

# The api pod's server: a sink for bulk runs and an echo for short connections.
ip netns exec "$QS_PREFIX-api" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 9000)); s.listen(256)
def serve(c):
    with c:
        n = 0
        while (d := c.recv(1 << 20)): n += len(d)
        c.sendall(str(n).encode())
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()' &
echo $! >"$QS_DIR/pids/sink"

measure() {
  qs_ns web python3 - "$megabytes" "$connections" <<'PY'
import socket, sys, time
mb, n = int(sys.argv[1]), int(sys.argv[2])
block = b"x" * (1 << 20)
t = time.perf_counter()
s = socket.create_connection(("10.244.2.2", 9000))
for _ in range(mb): s.sendall(block)
s.shutdown(socket.SHUT_WR)
got = int(s.recv(64))
bulk = time.perf_counter() - t
assert got == mb << 20, got
lat = []
t0 = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    c = socket.create_connection(("10.244.2.2", 8080))
    c.sendall(b"ping"); c.shutdown(socket.SHUT_WR)
    assert c.recv(16) == b"ping"
    c.close()
    lat.append(time.perf_counter() - t)
total = time.perf_counter() - t0
lat.sort()
print(f"{mb / bulk:.0f} {n / total:.0f} {lat[len(lat)//2]*1e3:.3f} {lat[int(len(lat)*0.99)]*1e3:.3f}")
PY
}

rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$(cat "$QS_DIR/pids/$1")/status"; }

say "without the mesh (pods not enrolled)"
sed -i 's/ambit.dev\/dataplane-mode: ambient/ambit.dev\/dataplane-mode: none/' "$QS_DIR/mesh.yaml"
for _ in $(seq 1 50); do qs_ns web nft list table inet ambit >/dev/null 2>&1 || break; sleep 0.1; done
read -r d_mbps d_cps d_p50 d_p99 <<<"$(measure)"
say "with the mesh (both pods enrolled, HBONE node to node)"
sed -i 's/ambit.dev\/dataplane-mode: none/ambit.dev\/dataplane-mode: ambient/' "$QS_DIR/mesh.yaml"
for _ in $(seq 1 50); do qs_ns web nft list table inet ambit >/dev/null 2>&1 && qs_ns api nft list table inet ambit >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
read -r m_mbps m_cps m_p50 m_p99 <<<"$(measure)"

printf '\n%-34s %12s %12s %8s\n' "" "direct" "mesh" "ratio"
printf '%-34s %12s %12s %8s\n' "bulk MiB/s (${megabytes} MiB, 1 conn)" "$d_mbps" "$m_mbps" "$(awk "BEGIN {printf \"%.2f\", $m_mbps/$d_mbps}")"
printf '%-34s %12s %12s %8s\n' "short connections/s (${connections})" "$d_cps" "$m_cps" "$(awk "BEGIN {printf \"%.2f\", $m_cps/$d_cps}")"
printf '%-34s %12s %12s %8s\n' "connect+echo p50 ms" "$d_p50" "$m_p50" "$(awk "BEGIN {printf \"%.2f\", $m_p50/$d_p50}")"
printf '%-34s %12s %12s %8s\n' "connect+echo p99 ms" "$d_p99" "$m_p99" "$(awk "BEGIN {printf \"%.2f\", $m_p99/$d_p99}")"
printf '%-34s %12s %12s\n' "daemon RSS MiB (node1, node2)" "" "$(rss node1), $(rss node2)"
