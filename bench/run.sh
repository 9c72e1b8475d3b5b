#!/usr/bin/env bash
# One command for the Omnitrail benchmark suite (issue #10). Writes bench/results/latest.{md,json}.
#
#   bench/run.sh            full scale: 1M customers / 10M interactions, 1,000 agents at 50 calls/s,
#                           1k/5k/10k idle WebSockets (< 20 min on 2 cores once the store is cached)
#   bench/run.sh --quick    everything at small scale (< 3 min)
#   options: --customers N --interactions M (preload size), --no-setup (skip scripts/setup.sh --bench),
#            --only LIST (comma-separated: preload,pop,isolation,ingest,lookup,connections; a partial
#            run's report goes to bench/results/tmp/only-<list>.{md,json}, not over latest.{md,json});
#            other arguments (or anything after `--`) go to bench/pop_latency.py (both pop runs),
#            e.g. `bench/run.sh --quick --rate 30`.
#
# Builds nothing of the daemon: uses $OMNITRAILD, else build/daemon/omnitraild, else
# build-lead/daemon/omnitraild (the first one with the asterisk_ami connector), copied to a
# private temporary file so a rebuild during the run cannot change it. Builds the bench tools
# (bench/*.cpp: echo_server, hello_server, preload, insert_baseline, pop_receiver) with plain g++ into
# build-bench/ when missing or stale. The preloaded store is cached in build-bench/stores/.
# Every load targets 127.0.0.1; every loop is bounded in count and time.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
MODE=full
CUSTOMERS=""
INTERACTIONS=""
SETUP=1
ALL="preload,pop,isolation,ingest,lookup,connections"
ONLY="$ALL"
POP_EXTRA=()
while (($#)); do
  case "$1" in
    --quick) MODE=quick ;;
    --customers) CUSTOMERS="$2"; shift ;;
    --interactions) INTERACTIONS="$2"; shift ;;
    --no-setup) SETUP=0 ;;
    --only) ONLY="$2"; shift ;;
    --) shift; POP_EXTRA+=("$@"); break ;;
    *) POP_EXTRA+=("$1") ;;  # anything else (e.g. --rate 30) goes to pop_latency.py, as before
  esac
  shift
done

if [ "$MODE" = quick ]; then
  : "${CUSTOMERS:=20000}" "${INTERACTIONS:=200000}"
  POP=(--agents 100 --rate 20 --duration 10 --echo-rounds 1000 --lookup-rounds 5000)
  ISO=(--agents 100 --rate 20 --duration 12 --burst-interactions 2000 --echo-rounds 200 --lookup-rounds 500)
  INGEST=(--duration 5 --ami-calls 1000)
  LOOKUP=(--duration 5 --warmup 1)
  CONN=(--levels 1000,5000,10000 --idle 2)
else
  : "${CUSTOMERS:=1000000}" "${INTERACTIONS:=10000000}"
  POP=(--agents 1000 --rate 50 --duration 60)
  ISO=(--agents 1000 --rate 50 --duration 60 --burst-interactions 2000 --echo-rounds 500 --lookup-rounds 2000)
  INGEST=(--duration 20 --ami-calls 5000)
  LOOKUP=(--duration 20 --warmup 3)
  CONN=(--levels 1000,5000,10000 --idle 5)
fi

if [ "$SETUP" = 1 ]; then
  "$ROOT/scripts/setup.sh" --bench >&2
fi
command -v wrk >/dev/null || { echo "wrk missing: run scripts/setup.sh --bench" >&2; exit 2; }

SRC="${OMNITRAILD:-}"
if [ -z "$SRC" ]; then
  for c in "$ROOT/build/daemon/omnitraild" "$ROOT/build-lead/daemon/omnitraild"; do
    if [ -x "$c" ] && grep -q asterisk_ami "$c"; then SRC="$c"; break; fi
    [ -x "$c" ] && echo "skipping $c: built without the asterisk_ami connector" >&2
  done
fi
[ -n "$SRC" ] && [ -x "$SRC" ] || { echo "no omnitraild: set OMNITRAILD" >&2; exit 2; }
export BENCH_LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
export BENCH_OMNITRAILD_SOURCE="${BENCH_OMNITRAILD_SOURCE:-$SRC}"  # named in the report
WORK="$(mktemp -d /tmp/omnitrail-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
BIN="$WORK/omnitraild"
cp "$SRC" "$BIN"
echo "omnitraild: $SRC (copied to $BIN)" >&2

BUILD="$ROOT/build-bench"
mkdir -p "$BUILD"
build() {  # build NAME LIBS...: bench/NAME.cpp -> build-bench/NAME when missing or stale
  local name="$1"; shift
  if [ ! -x "$BUILD/$name" ] || [ "$HERE/$name.cpp" -nt "$BUILD/$name" ] || [ "$HERE/bench_sqlite.hpp" -nt "$BUILD/$name" ]; then
    echo "building $BUILD/$name" >&2
    g++ -std=c++20 -O2 -o "$BUILD/$name.tmp" "$HERE/$name.cpp" "$@" && mv "$BUILD/$name.tmp" "$BUILD/$name"
  fi
}
build echo_server -lboost_system -lpthread
build hello_server -lboost_system -lpthread
build preload -lsqlite3
build insert_baseline -lsqlite3
build pop_receiver -lboost_system -lpthread
ECHO="${OMNITRAIL_BENCH_ECHO:-$BUILD/echo_server}"

RES="$HERE/results"
mkdir -p "$RES"
OUT="$WORK/out"
mkdir -p "$OUT"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
# stage NAME CMD...: runs one benchmark (its JSON goes to $OUT/NAME.json); a failure is recorded
# in that JSON and the suite goes on.
stage() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "== $name" >&2
  if ! "$@" --json "$OUT/$name.json" >"$OUT/$name.log" 2>&1; then
    python3 - "$name" "$OUT/$name.log" "$OUT/$name.json" <<'PY'
import json, sys
name, log, out = sys.argv[1:4]
tail = open(log, errors="replace").read()[-3000:]
json.dump({"benchmark": name, "error": tail}, open(out, "w"))
PY
    echo "   FAILED (see $RES/$name.log)" >&2
    cp "$OUT/$name.log" "$RES/$name.log"
  fi
  echo "   $((SECONDS - t0)) s" >&2
  echo "$name $((SECONDS - t0))" >>"$WORK/timings"
}

STORE=""
if want preload || want pop || want isolation || want ingest || want lookup; then
  stage preload python3 "$HERE/preload.py" --omnitraild "$BIN" --customers "$CUSTOMERS" --interactions "$INTERACTIONS"
  STORE="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("store", {}).get("path", ""))' "$OUT/preload.json")"
fi
STORE_ARGS=()
[ -n "$STORE" ] && STORE_ARGS=(--store-file "$STORE" --customers "$CUSTOMERS")
if want pop; then
  stage pop_latency python3 "$HERE/pop_latency.py" --omnitraild "$BIN" --echo-server "$ECHO" "${STORE_ARGS[@]}" \
    "${POP[@]}" "${POP_EXTRA[@]}"
fi
if want isolation; then
  stage isolation python3 "$HERE/pop_latency.py" --omnitraild "$BIN" --echo-server "$ECHO" "${STORE_ARGS[@]}" \
    "${ISO[@]}" "${POP_EXTRA[@]}"
fi
if [ -n "$STORE" ]; then
  want ingest && stage ingest python3 "$HERE/ingest.py" --omnitraild "$BIN" "${STORE_ARGS[@]}" "${INGEST[@]}"
  want lookup && stage lookup python3 "$HERE/lookup.py" --omnitraild "$BIN" "${STORE_ARGS[@]}" \
    --hello-server "$BUILD/hello_server" "${LOOKUP[@]}"
fi
if want connections; then
  stage connections python3 "$HERE/connections.py" --omnitraild "$BIN" --echo-server "$ECHO" "${CONN[@]}"
fi

echo "total $SECONDS" >>"$WORK/timings"
REPORT="$RES/latest"
if [ "$ONLY" != "$ALL" ]; then  # a partial run never replaces the full report
  mkdir -p "$RES/tmp"
  REPORT="$RES/tmp/only-${ONLY//,/-}"
fi
python3 "$HERE/report.py" "$OUT"/*.json --mode="$MODE" --timings "$WORK/timings" \
  --json-out "$REPORT.json" --md-out "$REPORT.md" \
  --target-pop-p99-ms "${BENCH_TARGET_POP_P99_MS:-2}" --target-ratio "${BENCH_TARGET_RATIO:-2}"
cat "$REPORT.md"
if [ "$ONLY" != "$ALL" ]; then
  echo "(partial run: $REPORT.{md,json}; to add its chat visitor rows to the full report:" >&2
  echo " python3 bench/report.py --amend bench/results/latest.json --visitors-from $REPORT.json \\" >&2
  echo "   --json-out bench/results/latest.json --md-out bench/results/latest.md)" >&2
fi
