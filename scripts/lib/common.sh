# Shared helpers for Ambit's scripts. Sourced, not run.

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages that are missing. Needs root (or sudo) only when something
# is actually missing, so a prepared machine runs without privileges.
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}) and not root; install them or run as root"
    sudo="sudo"
  fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_swift() {
  command -v swift >/dev/null || die "the Swift toolchain is not on PATH; install Swift 6.3 (https://www.swift.org/install/linux/) and retry"
}

# Runs a long command with its output in a log file, printing a progress line every 30 s
# and the log's tail if it fails.
run_logged() {
  local what="$1" log="$2"; shift 2
  say "$what (log: $log)"
  local start=$SECONDS
  "$@" >"$log" 2>&1 &
  local pid=$! next=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -ge "$next" ]; then
      printf '    ... %s: %ss, %s\n' "$what" "$((SECONDS - start))" "$(tail -n 1 "$log" | cut -c1-100)"
      next=$((SECONDS + 30))
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$log" >&2
    die "$what failed after $((SECONDS - start))s; full log in $log"
  fi
  say "$what done in $((SECONDS - start))s"
}

# The OTLP receiver the tracing tests export spans to (scripts/lib/otlp_receiver.py) runs
# on the official OpenTelemetry protos and grpcio, installed into a venv under .build/ so
# the system's Python is left alone. Tests find it at .build/otlp-receiver-venv/bin/python3
# (or wherever AMBIT_OTLP_RECEIVER_PYTHON points). Idempotent: a ready venv is kept.
OTLP_RECEIVER_VENV=".build/otlp-receiver-venv"
ensure_otlp_receiver() {
  local venv="${1:-$OTLP_RECEIVER_VENV}"
  if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c \
      'import grpc, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc' 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null || ensure_debian_packages python3
  # Debian's python3 ships venv without ensurepip unless python3-venv is installed.
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then ensure_debian_packages python3-venv; fi
  say "installing the OTLP test receiver's Python packages into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "cannot create a Python venv at $venv; install python3-venv and retry"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
      'opentelemetry-proto>=1.20' 'grpcio>=1.60' \
    || die "pip could not install opentelemetry-proto and grpcio into $venv (is PyPI reachable?)"
}
