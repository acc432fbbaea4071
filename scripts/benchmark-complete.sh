#!/usr/bin/env bash
# Creates and completions (scripts/benchmark.sh complete runs this): the embedded default (scripts/run.sh --detach:
# in-memory store, 3 notification-service replicas and billing-service in namespace billing, each with its daprd;
# secure, traced) under load/create-complete.js, each iteration a POST /tasks and then a PATCH of that task to
# completed, whose answer says whether its charge (billing.status) and its notification (notification.status) went
# out at once. After WARMUP at the lowest rate (not judged), for each rate of RATES, RUNS runs of DURATION; a run
# that fails its thresholds (k6 exit 99) is recorded and the next one starts, any other k6 failure stops the script.
# During each run, once a second, the CPU time and RSS of todo-api, billing-1 and every daprd (/proc/<pid>/stat);
# after it, the outbox drained before the next (the pending charges and notifications delivered). Raw results go to
# load/results/complete-<time>/; the figures (medians over the runs, with their range) to the section "Creates and
# completions (load/create-complete.js)" of docs/BENCHMARKS.md (scripts/complete_report.py; WRITE_DOCS=0: only
# printed and written to the results folder's summary.md).
#
#   scripts/benchmark.sh complete   RATES=25,50,75,100 DURATION=30s RUNS=2 WARMUP=30s P99_MS=250 CHARGED_MIN=0.99
#                                   NOTIFIED_MIN=0.99 VUS=50 (about 6 minutes with these, the build and start-up
#                                   included); PORT_OFFSET: the benchmark row of scripts/test-systems.txt (600)
#   RATES=10,20 DURATION=5s RUNS=1 WARMUP=5s WRITE_DOCS=0 scripts/benchmark.sh complete     (a try, under 2 minutes)
# All traffic goes to 127.0.0.1; every run is bounded by its duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=benchmark-complete
. "$ROOT/scripts/lib.sh"
export K6_NO_USAGE_REPORT=true # k6 would send usage statistics to stats.grafana.org after each run
cd "$ROOT"

RATES=${RATES:-25,50,75,100}
DURATION=${DURATION:-30s}
RUNS=${RUNS:-2}
WARMUP=${WARMUP:-30s}
P99_MS=${P99_MS:-250}
CHARGED_MIN=${CHARGED_MIN:-0.99}
NOTIFIED_MIN=${NOTIFIED_MIN:-0.99}
VUS=${VUS:-50}
WRITE_DOCS=${WRITE_DOCS:-1}
# The benchmark's row of scripts/test-systems.txt (600), as scripts/benchmark.sh cpu does: it never runs beside
# scripts/benchmark.sh, so it needs no row of its own.
OFFSET=${PORT_OFFSET:-$(test_system_offset benchmark)}
OUT=${BENCH_OUT:-$ROOT/load/results/complete-$(date -u +%Y%m%dT%H%M%SZ)}
case "$RATES" in ''|*[!0-9,]*|,*|*,|*,,*) die "RATES must be rates a second separated by commas, like 25,50,75,100: got '$RATES'" ;; esac
case "$RUNS" in ''|*[!0-9]*|0) die "RUNS must be a number of runs from 1: got '$RUNS'" ;; esac
IFS=, read -r -a RATE_LIST <<< "$RATES"
LOWEST=$(printf '%s\n' "${RATE_LIST[@]}" | sort -n | head -n 1)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say "results go to $OUT"

require_java_and_maven
apt_install python3 curl procps redis-tools
K6=$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)
DAPRD=$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)
say "building (mvn package -DskipTests)"
(mvn -B -q -ntp package -DskipTests) || die "the Maven build failed"

RUN_DIR=$OUT/run
SAMPLER=""
# However the script ends (done, failed, Ctrl-C), nothing it started stays behind: the sampler and the system.
cleanup() {
  [ -z "$SAMPLER" ] || { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; }
  [ ! -f "$RUN_DIR/processes" ] || RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET "$ROOT/scripts/run.sh" stop > /dev/null 2>&1
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the embedded default (scripts/run.sh --detach, ports +$OFFSET; log: $OUT/run.log)"
RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET scripts/run.sh --detach > "$OUT/run.log" 2>&1 \
  || { tail -n 30 "$OUT/run.log" >&2; die "the system did not start"; }
cp "$RUN_DIR/processes" "$OUT/processes.txt"
todo=http://127.0.0.1:$(plan_port app 0 "$OFFSET")
redis_port=$(plan_port redis 0 "$OFFSET")
PAGE_KB=$(( $(getconf PAGESIZE) / 1024 ))

# One line "t,name,ticks,rss_kb" for each sampled process still running (todo-api, billing-1, every daprd), read
# from /proc/<pid>/stat without a fork: utime + stime (fields 14, 15) and rss in pages (field 24).
sample_once() { # csv
  local now name pid stat
  now=$EPOCHREALTIME
  while read -r name pid _; do
    case "$name" in todo-api|billing-1|*-daprd) ;; *) continue ;; esac
    read -r -a stat 2>/dev/null < "/proc/$pid/stat" || continue
    echo "$now,$name,$((stat[13] + stat[14])),$((stat[23] * PAGE_KB))" >> "$1"
  done < "$OUT/processes.txt"
}
sample() { # csv: once a second until killed
  while true; do
    sample_once "$1"
    sleep 1
  done
}

# k6 load/create-complete.js; answers its exit code: 0 (passed) or 99 (a threshold failed); any other stops here.
k6run() { # summary-json rate duration [VAR=value ...]
  local summary=$1 rate=$2 duration=$3 rc=0
  shift 3
  say "k6 load/create-complete.js at $rate/s for $duration${*:+ ($*)}"
  env TODO_URL="$todo" RATE="$rate" DURATION="$duration" VUS="$VUS" P99_MS="$P99_MS" CHARGED_MIN="$CHARGED_MIN" \
    NOTIFIED_MIN="$NOTIFIED_MIN" "$@" SUMMARY_JSON="$summary" \
    "$K6" run -q load/create-complete.js > "${summary%.json}.txt" 2>&1 || rc=$?
  sed -n '/^create-complete:/,/^$/p' "${summary%.json}.txt" | sed 's/^/    /' >&2
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
    tail -n 20 "${summary%.json}.txt" | sed 's/^/    /' >&2
    die "k6 exited with $rc (see ${summary%.json}.txt)"
  fi
  [ -s "$summary" ] || die "k6 wrote no summary $summary (see ${summary%.json}.txt)"
  [ "$rc" -eq 0 ] || say "a threshold failed (k6 exit 99): recorded, the benchmark goes on"
  return "$rc"
}

drain() { # out-file: the outbox's backlog now, and how long until it is empty (at most 120 s)
  local backlog ms
  backlog=$(outbox_backlog "$redis_port")
  if ms=$(outbox_drain "$redis_port" 120); then
    echo "backlog=$backlog drained_ms=$ms" > "$1"
  else
    echo "backlog=$backlog drained_ms= left=$(outbox_backlog "$redis_port")" > "$1"
    say "the outbox did not drain within 120 s ($(outbox_backlog "$redis_port") events left)"
  fi
}

say "warm-up: $WARMUP at $LOWEST/s (not judged)"
k6run "$OUT/warmup.json" "$LOWEST" "$WARMUP" P99_MS=100000 CHARGED_MIN=0 NOTIFIED_MIN=0 || true
drain "$OUT/warmup.drain"

for rate in "${RATE_LIST[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    say "=== $rate iterations/s, run $run of $RUNS"
    csv=$OUT/$rate-$run-resources.csv
    echo "t,name,ticks,rss_kb" > "$csv"
    sample "$csv" &
    SAMPLER=$!
    rc=0
    k6run "$OUT/$rate-$run.json" "$rate" "$DURATION" || rc=$?
    kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=""
    sample_once "$csv" # the CPU time at the end of the run, to the tick
    echo "$rc" > "$OUT/$rate-$run.exit"
    drain "$OUT/$rate-$run.drain"
    say "outbox after the run: $(cat "$OUT/$rate-$run.drain")"
  done
done

say "stopping the system"
RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET scripts/run.sh stop > /dev/null 2>&1

cat > "$OUT/settings.env" <<SETTINGS
RATES=$RATES
DURATION=$DURATION
RUNS=$RUNS
WARMUP=$WARMUP
WARMUP_RATE=$LOWEST
P99_MS=$P99_MS
CHARGED_MIN=$CHARGED_MIN
NOTIFIED_MIN=$NOTIFIED_MIN
VUS=$VUS
PORT_OFFSET=$OFFSET
HEAD="$(git log -1 --format='%h %s' | cut -c1-100 | tr -d '"')"
HEAD_DIRTY=$(git status --porcelain --untracked-files=no | wc -l)
NPROC=$(nproc)
CPU_MODEL="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')"
MEM_GIB=$(awk '/^MemTotal:/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
KERNEL="$(uname -r)"
JAVA_OPTS="${JAVA_OPTS:-scripts/run.sh default}"
JAVA_VERSION="$(java -version 2>&1 | head -n 1 | tr -d '"')"
DAPRD_VERSION="$("$DAPRD" --version | tail -n 1)"
K6_VERSION="$("$K6" version | head -n 1)"
SETTINGS
docs=()
[ "$WRITE_DOCS" = 0 ] || docs=(--docs docs/BENCHMARKS.md)
python3 scripts/complete_report.py "$OUT" "${docs[@]}"
if [ "$WRITE_DOCS" = 0 ]; then
  say "summary in $OUT/summary.md (WRITE_DOCS=0: docs/BENCHMARKS.md left as it is)"
else
  say "wrote the section \"Creates and completions (load/create-complete.js)\" of docs/BENCHMARKS.md from $OUT"
fi
