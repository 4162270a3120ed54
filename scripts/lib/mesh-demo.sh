# The two-node mesh demo of scripts/quickstart.sh (and scripts/bench-node.sh). Sourced,
# not run.
#
# Builds two "nodes" and two "pods" from network namespaces (node1 with pod `web`, node2
# with pod `api`), runs one `ambit node` per node, and sends traffic from web to api
# through the mesh. mesh_demo_app then adds the sample application: `front` calling `back`
# (v1 and v2, behind a waypoint with a canary route) and `api`. The nodes take their config from a file, or with --control from an
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
    # SIGTERM drains: give the daemons a few seconds before forcing them.
    local i alive
    for i in $(seq 1 50); do
      alive=false
      for f in "$QS_DIR"/pids/*; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=true; done
      $alive || break
      sleep 0.2
    done
    for f in "$QS_DIR"/pids/*; do
      [ -f "$f" ] || continue
      kill -9 "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    done
  fi
  for ns in web api waypoint front back-v1 back-v2 node1 node2; do
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

# qs_pod NAME NODE IP: a pod: its own namespace, a /32 behind a link-local gateway on its
# node (the Calico layout).
qs_pod() {
  local pod="$1" node="$2" ip="$3"
  [ -e "/var/run/netns/$QS_PREFIX-$pod" ] || { ip netns add "$QS_PREFIX-$pod"; qs_ns "$pod" ip link set lo up; }
  ip -n "$QS_PREFIX-$node" link add "$pod" type veth peer name eth0 netns "$QS_PREFIX-$pod"
  qs_ns "$node" ip addr add 169.254.1.1/32 dev "$pod" 2>/dev/null || true
  qs_ns "$node" ip link set "$pod" up
  qs_ns "$node" ip route add "$ip/32" dev "$pod"
  qs_ns "$pod" ip addr add "$ip/32" dev eth0; qs_ns "$pod" ip link set eth0 up
  qs_ns "$pod" ip route add 169.254.1.1 dev eth0; qs_ns "$pod" ip route add default via 169.254.1.1
  qs_ns "$node" sysctl -qw net.ipv4.ip_forward=1
}

# qs_serve POD NAME VERSION [ARGS...]: the sample app's HTTP server (ambit-testapp) in a
# pod, on 8080.
qs_serve() {
  local pod="$1" name="$2" version="$3"; shift 3
  ip netns exec "$QS_PREFIX-$pod" "$QS_TESTAPP" serve --listen 0.0.0.0:8080 --name "$name" --version "$version" "$@" \
    >"$QS_DIR/$pod.log" 2>&1 &
  echo $! >"$QS_DIR/pids/$pod"
}

# qs_wait_enrolled POD...: until the node has put its rules in each pod.
qs_wait_enrolled() {
  local i pod ready
  for i in $(seq 1 100); do
    ready=true
    for pod in "$@"; do qs_ns "$pod" nft list table inet ambit >/dev/null 2>&1 || { ready=false; break; }; done
    $ready && return 0
    sleep 0.1
  done
  cat "$QS_DIR"/node*.err >&2
  die "pods $* were not enrolled within 10 s (the node daemons' logs above)"
}

# mesh_demo_app: the sample application (control-plane mode). `front` on node1 calls
# `back` and `api` for every request; `back` runs as v1 (failing 10 % of requests) and v2
# on node2. All of them are ambit-testapp HTTP servers.
mesh_demo_app() {
  qs_pod front node1 10.244.1.4
  qs_pod back-v1 node2 10.244.2.3
  qs_pod back-v2 node2 10.244.2.4
  cat >"$QS_DIR/app.yaml" <<YAML
kind: Workload
metadata: {name: front, namespace: shop, labels: {app: front}}
spec: {serviceAccount: front, node: node1, addresses: [10.244.1.4], netns: /var/run/netns/$QS_PREFIX-front}
---
kind: Workload
metadata: {name: back-v1, namespace: shop, labels: {app: back, version: v1}}
spec: {serviceAccount: back, node: node2, addresses: [10.244.2.3], netns: /var/run/netns/$QS_PREFIX-back-v1}
---
kind: Workload
metadata: {name: back-v2, namespace: shop, labels: {app: back, version: v2}}
spec: {serviceAccount: back, node: node2, addresses: [10.244.2.4], netns: /var/run/netns/$QS_PREFIX-back-v2}
---
kind: Service
metadata: {name: front, namespace: shop}
spec: {selector: {app: front}, addresses: [10.96.0.10], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
---
kind: Service
metadata: {name: back, namespace: shop}
spec: {selector: {app: back}, addresses: [10.96.0.30], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
---
kind: Service
metadata: {name: back-v1, namespace: shop}
spec: {selector: {app: back, version: v1}, addresses: [10.96.0.31], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
---
kind: Service
metadata: {name: back-v2, namespace: shop}
spec: {selector: {app: back, version: v2}, addresses: [10.96.0.32], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
YAML
  qs_ambit apply -f "$QS_DIR/app.yaml" | sed 's/^/    /'
  qs_serve back-v1 back v1 --fail-percent 10
  qs_serve back-v2 back v2
  # Names, not addresses: the node answers mesh names from inside each pod.
  qs_serve front front v1 --call http://back.shop.svc.cluster.local/ --call http://api.shop.svc.cluster.local/
  qs_wait_enrolled front back-v1 back-v2
}

# mesh_demo_waypoint: the L7 part. A waypoint pod on node1 joined with its own token,
# `back` labelled to use it, and an HTTPRoute that splits back 90/10 with retries.
mesh_demo_waypoint() {
  qs_pod waypoint node1 10.244.1.3
  cat >"$QS_DIR/l7.yaml" <<YAML
# The waypoint of namespace shop, and the pod that runs it (never enrolled: it speaks HBONE itself).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: ambit-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
kind: Workload
metadata: {name: waypoint, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccount: waypoint, node: node1, addresses: [10.244.1.3]}
---
# back's traffic now goes through the waypoint.
kind: Service
metadata: {name: back, namespace: shop, labels: {ambit.dev/use-waypoint: waypoint}}
spec: {selector: {app: back}, addresses: [10.96.0.30], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
---
# Canary: 90 % to v1, 10 % to v2; a 500 or 503 is retried (up to 2 more tries).
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: back, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: back, port: 80}]
  rules:
  - backendRefs:
    - {name: back-v1, port: 80, weight: 90}
    - {name: back-v2, port: 80, weight: 10}
    retry: {codes: [500, 503], attempts: 2, backoff: 25ms}
YAML
  qs_ambit apply -f "$QS_DIR/l7.yaml" | sed 's/^/    /'
  local token
  token=$("$QS_BIN" control token create --waypoint shop/waypoint --data-dir "$QS_DIR/control")
  ip netns exec "$QS_PREFIX-waypoint" "$QS_BIN" waypoint --control "$QS_CONTROL" --join "$token" \
    --trust-bundle "$QS_DIR/control/ca/root-cert.pem" --namespace shop --name waypoint \
    --state-dir "$QS_DIR/state-waypoint" --access-log json >"$QS_DIR/waypoint.log" 2>"$QS_DIR/waypoint.err" &
  echo $! >"$QS_DIR/pids/waypoint"
  local i
  for i in $(seq 1 100); do
    if qs_ns waypoint curl -sf localhost:15021/healthz/ready >/dev/null 2>&1 \
      && qs_ambit status 2>/dev/null | grep -q "waypoint shop/waypoint: connected, in sync"; then
      return 0
    fi
    sleep 0.1
  done
  cat "$QS_DIR/waypoint.err" >&2
  die "the waypoint was not ready within 10 s (its log above)"
}

# mesh_demo_up BIN [--control [TESTAPP]]: builds the topology, starts the daemons (and
# with --control the control plane) and the api server: ambit-testapp's HTTP server when
# TESTAPP is given, else a one-line TCP echo (the node benchmark's peer).
mesh_demo_up() {
  local bin="$1" mode="${2:-file}"
  QS_BIN="$bin"
  QS_TESTAPP="${3:-}"
  mesh_demo_down
  mkdir -p "$QS_DIR/pids"
  for ns in node1 node2; do ip netns add "$QS_PREFIX-$ns"; qs_ns "$ns" ip link set lo up; done
  # node1 <-> node2
  ip -n "$QS_PREFIX-node1" link add fabric0 type veth peer name fabric0 netns "$QS_PREFIX-node2"
  qs_ns node1 ip addr add 10.250.0.1/24 dev fabric0; qs_ns node1 ip link set fabric0 up
  qs_ns node2 ip addr add 10.250.0.2/24 dev fabric0; qs_ns node2 ip link set fabric0 up
  qs_pod web node1 10.244.1.2
  qs_pod api node2 10.244.2.2
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
spec: {selector: {app: api}, addresses: [10.96.0.20], ports: [{port: 80, targetPort: 8080, appProtocol: http}]}
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
  if [ -n "$QS_TESTAPP" ]; then
    qs_serve api api v1
  else
    # A one-line echo server (any TCP server would do; the mesh does not care).
    ip netns exec "$QS_PREFIX-api" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen(64)
def serve(c):
    with c:
        while (d := c.recv(65536)): c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()' &
    echo $! >"$QS_DIR/pids/api-server"
  fi
  qs_wait_enrolled web api
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
