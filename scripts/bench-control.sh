#!/usr/bin/env bash
# What the control plane costs: how long an applied change takes to reach every node (1,
# 10 and 100 in-process node clients, each its own node identity over mutual TLS), how
# many bytes a node receives, and the `ambit control` process's memory with 10,000
# workloads stored and pushed.
#
#   scripts/bench-control.sh [--nodes 1,10,100] [--rounds 20] [--memory-workloads 10000]
#                            [--memory-nodes 10] [--workloads-per-node 10] [--services 20]
#
# Builds in release, runs Sources/ambit-bench-control, prints Markdown tables (the ones in
# docs/benchmarks.md). No root needed; everything is on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes|--rounds|--memory-workloads|--memory-nodes|--workloads-per-node|--services) args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
ensure_swift
run_logged "building ambit (release)" .build/bench-control-build.log \
  swift build -c release --product ambit
run_logged "building ambit-bench-control (release)" .build/bench-control-build.log \
  swift build -c release --product ambit-bench-control
bin=$(swift build -c release --show-bin-path)
say "machine: $(nproc) cores, $(uname -r); other load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/ambit-bench-control" --ambit "$bin/ambit" "${args[@]}"
