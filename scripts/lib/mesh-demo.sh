# The two-node mesh demo of scripts/quickstart.sh. Sourced, not run.
#
# Builds two "nodes" and two "pods" from network namespaces (node1 with pod `web`, node2
# with pod `api`), runs one `ambit node` per node, and sends traffic from web to api
# through the mesh. Everything it makes is named ambit-qs-* and recorded under $QS_DIR, so
# mesh_demo_down removes exactly that (processes by pid, never by name).

QS_PREFIX=ambit-qs
QS_DIR=${QS_DIR:-/tmp/ambit-quickstart}

qs_ns() { ip netns exec "$QS_PREFIX-$1" "${@:2}"; }

mesh_demo_down() {
  if [ -d "$QS_DIR/pids" ]; then
    for f in "$QS_DIR"/pids/*; do
      [ -f "$f" ] || continue
      kill "$(cat "$f")" 2>/dev/null || true
    done
    sleep 1
    for f in "$QS_DIR"/pids/*; do
      [ -f "$f" ] || continue
      kill -9 "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    done
  fi
  for ns in web api node1 node2; do
    ip netns del "$QS_PREFIX-$ns" 2>/dev/null || true
  done
}

# mesh_demo_up BIN: builds the topology, starts the daemons and the api server.
mesh_demo_up() {
  local bin="$1"
  mesh_demo_down
  mkdir -p "$QS_DIR/pids"
  for ns in node1 node2 web api; do ip netns add "$QS_PREFIX-$ns"; done
  for ns in node1 node2 web api; do qs_ns "$ns" ip link set lo up; done
  # node1 <-> node2
  ip -n "$QS_PREFIX-node1" link add fabric0 type veth peer name fabric0 netns "$QS_PREFIX-node2"
  qs_ns node1 ip addr add 10.250.0.1/24 dev fabric0; qs_ns node1 ip link set fabric0 up
  qs_ns node2 ip addr add 10.250.0.2/24 dev fabric0; qs_ns node2 ip link set fabric0 up
  # a pod on each node: a /32 behind a link-local gateway (the Calico layout)
  local n=1 pod
  for pod in web api; do
    local node="node$n" ip="10.244.$n.2"
    ip -n "$QS_PREFIX-$node" link add "$pod" type veth peer name eth0 netns "$QS_PREFIX-$pod"
    qs_ns "$node" ip addr add 169.254.1.1/32 dev "$pod"; qs_ns "$node" ip link set "$pod" up
    qs_ns "$node" ip route add "$ip/32" dev "$pod"
    qs_ns "$pod" ip addr add "$ip/32" dev eth0; qs_ns "$pod" ip link set eth0 up
    qs_ns "$pod" ip route add 169.254.1.1 dev eth0; qs_ns "$pod" ip route add default via 169.254.1.1
    qs_ns "$node" sysctl -qw net.ipv4.ip_forward=1
    n=$((n + 1))
  done
  qs_ns node1 ip route add 10.244.2.0/24 via 10.250.0.2
  qs_ns node2 ip route add 10.244.1.0/24 via 10.250.0.1

  "$bin" dev-ca init --dir "$QS_DIR/ca" >/dev/null
  cat >"$QS_DIR/mesh.yaml" <<YAML
kind: MeshConfig
metadata: {name: mesh}
spec: {ca: {directory: $QS_DIR/ca}}
---
kind: Namespace
metadata: {name: shop, labels: {ambit.dev/dataplane-mode: ambient}}
---
kind: Workload
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {serviceAccount: web, node: node1, addresses: [10.244.1.2], netns: /var/run/netns/$QS_PREFIX-web}
---
kind: Workload
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {serviceAccount: api, node: node2, addresses: [10.244.2.2], netns: /var/run/netns/$QS_PREFIX-api}
---
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, addresses: [10.96.0.20], ports: [{port: 80, targetPort: 8080}]}
YAML
  for node in node1 node2; do
    # `ip netns exec` execs the daemon, so $! is the daemon's own pid (a shell function
    # in the background would leave a subshell's pid instead).
    ip netns exec "$QS_PREFIX-$node" "$bin" node --config "$QS_DIR/mesh.yaml" --node "$node" --state-dir "$QS_DIR/state-$node" \
      >"$QS_DIR/$node.log" 2>"$QS_DIR/$node.err" &
    echo $! >"$QS_DIR/pids/$node"
  done
  # The app: a one-line echo server (any TCP server would do; the mesh does not care).
  ip netns exec "$QS_PREFIX-api" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen(64)
def serve(c):
    with c:
        while (d := c.recv(65536)): c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()' &
  echo $! >"$QS_DIR/pids/api-server"
  local i
  for i in $(seq 1 100); do
    qs_ns web nft list table inet ambit >/dev/null 2>&1 && qs_ns api nft list table inet ambit >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$QS_DIR"/node*.err >&2
  die "the pods did not enrol within 10 s (daemon logs above)"
}

# mesh_demo_send TARGET MESSAGE: connects from pod web, sends, prints the reply.
mesh_demo_send() {
  qs_ns web python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
reply = b""
while (d := s.recv(65536)): reply += d
print(reply.decode())' "$1" "$2"
}
