# The working area and clean-up every benchmark script shares. Sourced, not run.
#
#   bench_workspace NAME   # sets OUT_DIR, LOG_DIR (bench-out/NAME-logs, emptied), WORK,
#                          # PIDFILE, and traps EXIT/INT/TERM to clean up
#
# Everything a benchmark starts is stopped by PID: the background job in BG_PID (a build
# in progress), the orchestrator in ORCH_PID, and whatever children the orchestrator still
# lists in $PIDFILE (it stops them itself; the list is the fallback if it was killed
# first). WORK is removed.

BG_PID=""
ORCH_PID=""

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in $BG_PID $ORCH_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -s $PIDFILE ]]; then
        while read -r pid; do
            [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
        done <"$PIDFILE"
    fi
    rm -rf "$WORK"
    exit "$rc"
}

bench_workspace() {
    OUT_DIR="$ROOT/bench-out"
    LOG_DIR="$OUT_DIR/$1-logs"
    rm -rf "$LOG_DIR"
    mkdir -p "$LOG_DIR"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/ambit-bench-$1.XXXXXX")"
    PIDFILE="$WORK/pids"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
