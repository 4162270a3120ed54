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
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null && (( (SECONDS - start) % 30 < 5 )); then
      printf '    ... %s: %ss, %s\n' "$what" "$((SECONDS - start))" "$(tail -n 1 "$log" | cut -c1-100)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$log" >&2
    die "$what failed after $((SECONDS - start))s; full log in $log"
  fi
  say "$what done in $((SECONDS - start))s"
}
