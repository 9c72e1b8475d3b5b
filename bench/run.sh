#!/usr/bin/env bash
# One command for the Omnitrail benchmark suite (issue #10). Builds nothing of the daemon:
# uses $OMNITRAILD, else build/daemon/omnitraild, else build-lead/daemon/omnitraild (the first
# of those two that contains the asterisk_ami connector).
# Builds only the baseline echo server (bench/echo_server.cpp) into build-bench/ if missing.
# Extra arguments go to bench/pop_latency.py (e.g. --agents 1000 --rate 50 --duration 60).
# Writes bench/results/latest.json and bench/results/latest.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
BIN="${OMNITRAILD:-}"
if [ -z "$BIN" ]; then
  for c in "$ROOT/build/daemon/omnitraild" "$ROOT/build-lead/daemon/omnitraild"; do
    # Skip builds without the AMI connector (the benchmark needs connectors[].type asterisk_ami).
    if [ -x "$c" ] && grep -q asterisk_ami "$c"; then BIN="$c"; break; fi
    [ -x "$c" ] && echo "skipping $c: built without the asterisk_ami connector" >&2
  done
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "no omnitraild: set OMNITRAILD" >&2; exit 2; }
ECHO="${OMNITRAIL_BENCH_ECHO:-$ROOT/build-bench/echo_server}"
if [ ! -x "$ECHO" ] || [ "$HERE/echo_server.cpp" -nt "$ECHO" ]; then
  mkdir -p "$(dirname "$ECHO")"
  echo "building $ECHO" >&2
  g++ -std=c++20 -O2 -o "$ECHO" "$HERE/echo_server.cpp" -lboost_system -lpthread
fi
mkdir -p "$HERE/results"
python3 "$HERE/pop_latency.py" --omnitraild "$BIN" --echo-server "$ECHO" \
  --json "$HERE/results/pop_latency.json" "$@" >/dev/null
python3 "$HERE/report.py" "$HERE/results/pop_latency.json" \
  --json-out "$HERE/results/latest.json" --md-out "$HERE/results/latest.md" \
  --target-pop-p99-ms "${BENCH_TARGET_POP_P99_MS:-2}" \
  --target-ratio "${BENCH_TARGET_RATIO:-2}"
rm -f "$HERE/results/pop_latency.json"
cat "$HERE/results/latest.md"
