#!/usr/bin/env bash
# Where a create's time goes (scripts/benchmark.sh cpu): scripts/run.sh's secure, traced default, and for each store,
# RUNS times, in an order that turns every run:
#   floor     k6 sends the plain save + invoke straight to todo-api's sidecar (load/paths.js PATH_NAME=floor)
#   todo-api  POST /tasks (load/compare.js): the task saved and its notification delivered once, through the outbox
# each a closed loop with VUS users for DURATION, after WARMUP of the same load. For each run: creates a second, and
# the CPU ms per create of every process of the system (/proc/<pid>/stat; k6 not counted), read once the outbox has
# drained. In the first run of each path, a CPU profile of todo-api's sidecar (daprd --enable-profiling; go tool
# pprof) and Redis's INFO commandstats (calls per create). Figures to load/results/cpu-<time>/, then the "Where a
# create's time goes" section of docs/BENCHMARKS.md (scripts/cpu_report.py).
#
#   scripts/benchmark.sh cpu     STORES="memory redis" RUNS=2 VUS=32 DURATION=20s WARMUP=120s PROFILE_SECONDS=15
#                                (about 4 minutes a store with RUNS=2)
# Traffic goes to 127.0.0.1 only; every run is bounded by its duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=benchmark-cpu
. "$ROOT/scripts/lib.sh"
export K6_NO_USAGE_REPORT=true # k6 would send usage statistics to stats.grafana.org after each run
cd "$ROOT"

STORES=${STORES:-memory redis}
RUNS=${RUNS:-2}
VUS=${VUS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-120s}
PROFILE_SECONDS=${PROFILE_SECONDS:-15}
# The benchmark's row of scripts/test-systems.txt: it never runs beside scripts/benchmark.sh.
OFFSET=$(test_system_offset benchmark)
OUT=${BENCH_OUT:-$ROOT/load/results/cpu-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
say "results go to $OUT"

require_java_and_maven
apt_install curl procps redis-tools
K6=$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)
DAPRD=$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)
command -v go > /dev/null || die "go is needed for go tool pprof"

RUN_DIR=""
stop_system() { [ -z "$RUN_DIR" ] || RUN_DIR=$RUN_DIR scripts/run.sh stop > /dev/null 2>&1 || true; }
trap stop_system EXIT

ticks() { # processes-file: "name ticks" for each process still running
  local name pid
  while read -r name pid _; do
    [ -r "/proc/$pid/stat" ] && echo "$name $(awk '{print $14 + $15}' "/proc/$pid/stat")"
  done < "$1"
}

k6run() { # script summary-json [VAR=value ...]
  local script=$1 summary=$2
  shift 2
  env "$@" SUMMARY_JSON="$summary" "$K6" run -q "$script" > "${summary%.json}.txt" 2>&1 || true
  sed -n '1,3p' "${summary%.json}.txt" | sed 's/^/    /' >&2
}

load() { # path summary-json duration
  if [ "$1" = floor ]; then
    k6run load/paths.js "$2" PATH_NAME=floor DAPR_URL="http://127.0.0.1:$((3500 + OFFSET))" VUS="$VUS" DURATION="$3"
  else
    k6run load/compare.js "$2" PEER=todo-api TODO_URL="http://127.0.0.1:$((8000 + OFFSET))" MODE=closed VUS="$VUS" \
      DURATION="$3"
  fi
}

printf 'STORES="%s"\nRUNS=%s\nVUS=%s\nDURATION=%s\nWARMUP=%s\nPROFILE_SECONDS=%s\nCLK_TCK=%s\nCOMMIT=%s\n' \
  "$STORES" "$RUNS" "$VUS" "$DURATION" "$WARMUP" "$PROFILE_SECONDS" "$(getconf CLK_TCK)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" > "$OUT/settings.env"
for store in $STORES; do
  RUN_DIR=$OUT/run-$store
  say "=== $store store: starting the system (ports +$OFFSET, profiling on in every sidecar)"
  RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET DAPR_PROFILING=on scripts/run.sh --detach "--$store" > "$OUT/run-$store.log" 2>&1 \
    || { tail -n 30 "$OUT/run-$store.log" >&2; die "the system did not start"; }
  redis_port=$(plan_port redis 0 "$OFFSET")
  profile_url="http://127.0.0.1:$(( $(plan_port metrics 0 "$OFFSET") + 5 ))/debug/pprof/profile?seconds=$PROFILE_SECONDS"
  # The floor calls todo-api's sidecar itself, with its API token, which k6 reads from its environment.
  DAPR_API_TOKEN=$(cat "$RUN_DIR/secrets/todo-api.dapr-api-token")
  export DAPR_API_TOKEN
  say "$store: warming up, $WARMUP of each path"
  load todo-api "$OUT/$store-warmup-todo-api.json" "$WARMUP"
  load floor "$OUT/$store-warmup-floor.json" "$WARMUP"
  outbox_drain "$redis_port" 180 > /dev/null || die "the outbox did not drain within 180 s after the warm-up"
  for run in $(seq 1 "$RUNS"); do
    order="floor todo-api"
    [ $((run % 2)) -eq 0 ] && order="todo-api floor"
    for path in $order; do
      base=$OUT/$store-$path-$run
      redis-cli -p "$redis_port" config resetstat > /dev/null
      ticks "$RUN_DIR/processes" > "$base.before"
      start=$(date +%s%N)
      load "$path" "$base.json" "$DURATION" &
      k6_pid=$!
      if [ "$run" -eq 1 ]; then
        sleep 3
        curl -sf -o "$base.pprof" "$profile_url" || say "no profile from todo-api's sidecar ($profile_url)"
      fi
      wait "$k6_pid"
      drained_ms=$(outbox_drain "$redis_port" 180) || die "$path: the outbox did not drain within 180 s"
      sleep 1 # the replicas record their answers in batches (DEDUP_RECORD_LINGER_MS)
      ticks "$RUN_DIR/processes" > "$base.after"
      echo "$(( ($(date +%s%N) - start) / 1000000 )) $drained_ms" > "$base.window"
      redis-cli -p "$redis_port" info commandstats > "$base.redis"
      [ ! -s "$base.pprof" ] || go tool pprof -top -nodecount=100000 "$DAPRD" "$base.pprof" > "$base.top" 2> /dev/null \
        || say "go tool pprof could not read $base.pprof"
    done
  done
  stop_system
  RUN_DIR=""
done
python3 scripts/cpu_report.py "$OUT"
