# The two-node mesh demo of scripts/quickstart.sh. Sourced, not run.
#
# Builds two "nodes" and two "pods" from network namespaces (node1 with pod `web`, node2
# with pod `api`), runs one `ambit node` per node, and sends traffic from web to api
# through the mesh. The nodes take their config from a file, or with --control from an
# `ambit control` (in node1's namespace, on 10.250.0.1:15012) that they join with one-time
# tokens and that the mesh is applied to with `ambit apply`. Everything it makes is named
# ambit-qs-* and kept under $QS_DIR, so mesh_demo_down removes exactly that (processes by
# pid, never by name).

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
  # Node identities, stored configs and the control plane's data belong to this demo's CA:
  # a rerun starts from nothing rather than from another run's certificates.
  case "$QS_DIR" in
    /tmp/ambit-*) rm -rf "$QS_DIR" ;;
  esac
}

QS_CONTROL=10.250.0.1:15012

# qs_ambit ARGS: the CLI against the demo's control plane (run in node1's namespace).
qs_ambit() { qs_ns node1 "$QS_BIN" "$@" --ambitconfig "$QS_DIR/control/admin.ambitconfig"; }

# Starts `ambit control` in node1's namespace and waits until its admin API answers.
qs_control_up() {
  ip netns exec "$QS_PREFIX-node1" "$QS_BIN" control --data-dir "$QS_DIR/control" \
    --listen 0.0.0.0:15012 --join-listen 0.0.0.0:15013 --advertise "$QS_CONTROL" \
    >"$QS_DIR/control.log" 2>&1 &
  echo $! >"$QS_DIR/pids/control"
  local i
  for i in $(seq 1 100); do
    [ -f "$QS_DIR/control/admin.ambitconfig" ] && qs_ambit status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$QS_DIR/control.log" >&2
  die "ambit control did not answer within 10 s (its log above)"
}

# mesh_demo_up BIN [--control]: builds the topology, starts the daemons (and with
# --control the control plane) and the api server.
mesh_demo_up() {
  local bin="$1" mode="${2:-file}"
  QS_BIN="$bin"
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

  if [ "$mode" = --control ]; then
    # The control plane is the CA: the mesh file names none.
    echo "kind: MeshConfig
metadata: {name: mesh}" >"$QS_DIR/mesh.yaml"
  else
    "$bin" dev-ca init --dir "$QS_DIR/ca" >/dev/null
    echo "kind: MeshConfig
metadata: {name: mesh}
spec: {ca: {directory: $QS_DIR/ca}}" >"$QS_DIR/mesh.yaml"
  fi
  cat >>"$QS_DIR/mesh.yaml" <<YAML
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
  local source=(--config "$QS_DIR/mesh.yaml")
  if [ "$mode" = --control ]; then
    qs_control_up
    qs_ambit apply -f "$QS_DIR/mesh.yaml" | sed 's/^/    /'
  fi
  for node in node1 node2; do
    if [ "$mode" = --control ]; then
      # A one-time token per node: with it the node gets its own identity
      # (spiffe://cluster.local/ns/ambit-system/sa/node-NAME); restarts need none.
      source=(--control "$QS_CONTROL" --join "$("$bin" control token create --node "$node" --data-dir "$QS_DIR/control")"
        --trust-bundle "$QS_DIR/control/ca/root-cert.pem")
    fi
    # `ip netns exec` execs the daemon, so $! is the daemon's own pid (a shell function
    # in the background would leave a subshell's pid instead).
    ip netns exec "$QS_PREFIX-$node" "$bin" node "${source[@]}" --node "$node" --state-dir "$QS_DIR/state-$node" \
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
