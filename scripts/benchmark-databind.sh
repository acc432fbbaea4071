#!/usr/bin/env bash
# What jackson-databind costs todo-api: this checkout's todo-api against a baseline's (BASELINE_REF, default main, built
# in a detached worktree under the results folder; or BASELINE_JAR, a todo-api.jar already built), each in todo-api's
# place behind the same system (scripts/run.sh's secure default: daprd, 3 notification-service replicas of this
# checkout, in-memory store with the outbox, Sentry, mTLS, tokens), each with its own class-data archive made by its
# own training run, as run.sh starts it. Alternating, in one run:
#   - START_TRIALS starts of each, A B A B ..., timed from the process's start to its first answered (2xx) POST /tasks;
#   - RUNS closed loops of each, A B / B A ...: a fresh start, WARMUP of closed loop not counted, then DURATION of
#     closed loop with VUS users (load/compare.js MODE=closed): throughput, latency and todo-api's own CPU time per
#     request (utime + stime of its process over the loop); the outbox drained between.
# Prints the figures and writes them to load/results/databind-<time>/databind.txt (raw k6 summaries beside it).
#
#   scripts/benchmark-databind.sh        START_TRIALS=7 RUNS=3 WARMUP=10s DURATION=20s VUS=32 PORT_OFFSET=1850
#   MORE_JARS="streaming=/path/todo-api.jar" scripts/benchmark-databind.sh   a third variant, measured in the same turns
# About 6 minutes. Traffic goes to 127.0.0.1 only; every run is bounded by its duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=benchmark-databind
. "$ROOT/scripts/lib.sh"
. "$ROOT/scripts/peer-process.sh"
export K6_NO_USAGE_REPORT=true # k6 would send usage statistics to stats.grafana.org after each run
cd "$ROOT"

START_TRIALS=${START_TRIALS:-7}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-10s}
DURATION=${DURATION:-20s}
VUS=${VUS:-32}
OFFSET=${PORT_OFFSET:-$(test_system_offset databind)}
BASELINE_REF=${BASELINE_REF:-main}
BASELINE_JAR=${BASELINE_JAR:-}
OUT=${BENCH_OUT:-$ROOT/load/results/databind-$(date -u +%Y%m%dT%H%M%SZ)}
JAVA_OPTS_BENCH=${JAVA_OPTS:--XX:+UseSerialGC -Xms32m -Xmx128m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1}
mkdir -p "$OUT"
say "results go to $OUT"

require_java_and_maven
apt_install curl procps redis-tools
K6=$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)
"$ROOT/scripts/setup-daprd.sh" > /dev/null
(mvn -B -q -ntp package -DskipTests -pl todo-verticle,notification-verticle -am) || die "the Maven build failed"
WORKTREE=""
if [ -z "$BASELINE_JAR" ]; then
  WORKTREE=$OUT/baseline
  git -C "$ROOT" worktree add --detach "$WORKTREE" "$BASELINE_REF" > /dev/null 2>&1 || die "no worktree of $BASELINE_REF"
  (cd "$WORKTREE" && mvn -B -q -ntp package -DskipTests -pl todo-verticle -am) || die "the build of $BASELINE_REF failed"
  BASELINE_JAR=$WORKTREE/todo-verticle/target/todo-api.jar
fi
declare -A JAR=([baseline]=$BASELINE_JAR [branch]=$ROOT/todo-verticle/target/todo-api.jar)
# MORE_JARS="name=path ...": more variants (say a change that wins something back), measured the same way, in turn.
NAMES="baseline branch"
for extra in ${MORE_JARS:-}; do
  JAR[${extra%%=*}]=${extra#*=}
  NAMES="$NAMES ${extra%%=*}"
done
say "baseline $BASELINE_JAR ($(du -k "$BASELINE_JAR" | cut -f1) kB), branch ${JAR[branch]} ($(du -k "${JAR[branch]}" | cut -f1) kB)"

RUN_DIR=$OUT/run
PEER_PID=""
cleanup() {
  [ -z "$PEER_PID" ] || kill "$PEER_PID" 2>/dev/null || true
  [ -d "$RUN_DIR" ] && RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET "$ROOT/scripts/run.sh" stop > /dev/null 2>&1
  [ -z "$WORKTREE" ] || git -C "$ROOT" worktree remove --force "$WORKTREE" 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each jar's own class-data archive, from its own training run, in a folder of its own (class_data_archive keeps one
# archive per jar name and would remove the other's).
declare -A CDS
for name in $NAMES; do
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of words
  CDS[$name]=$(DAPR_CACHE_DIR=$OUT/cds-$name class_data_archive "${JAR[$name]}" $JAVA_OPTS_BENCH)
  [ -n "${CDS[$name]}" ] || die "no class-data archive for the $name's todo-api"
done

say "starting the system (scripts/run.sh --detach, ports +$OFFSET)"
RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET scripts/run.sh --detach > "$OUT/run.log" 2>&1 \
  || { tail -n 30 "$OUT/run.log" >&2; die "the system did not start"; }
APP_PORT=$((8000 + OFFSET))
URL=http://127.0.0.1:$APP_PORT
DAPR_HTTP=$((3500 + OFFSET))
ZIPKIN_ENDPOINT=http://127.0.0.1:$((9411 + OFFSET))/api/v2/spans
REDIS_PORT=$((6390 + OFFSET))
TODO_DAPR_TOKEN=$(cat "$RUN_DIR/secrets/todo-api.dapr-api-token")
TODO_APP_TOKEN=$(cat "$RUN_DIR/secrets/todo-api.app-api-token")
todo_pid=$(awk '$1 == "todo-api" {print $2}' "$RUN_DIR/processes")
kill "$todo_pid" && while kill -0 "$todo_pid" 2>/dev/null; do sleep 0.1; done

start_peer() { # name
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of words
  env APP_PORT="$APP_PORT" DAPR_HTTP_PORT="$DAPR_HTTP" DAPR_API_TOKEN="$TODO_DAPR_TOKEN" \
    APP_API_TOKEN="$TODO_APP_TOKEN" OTEL_EXPORTER_ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT" \
    java $JAVA_OPTS_BENCH -XX:SharedArchiveFile="${CDS[$1]}" -jar "${JAR[$1]}" >> "$OUT/peer-$1.log" 2>&1 &
  PEER_PID=$!
}

: > "$OUT/start.txt"
for trial in $(seq 1 "$START_TRIALS"); do
  for name in $NAMES; do
    first_answer "$name"
    stop_peer
    echo "$name $FIRST_MS" >> "$OUT/start.txt"
  done
done
say "start to first answered POST /tasks, ms: $(awk '{a[$1] = a[$1] " " $2} END {for (k in a) printf "%s:%s; ", k, a[k]}' "$OUT/start.txt")"

: > "$OUT/loops.txt"
for run in $(seq 1 "$RUNS"); do
  # The order turns every run: each variant takes each place in turn.
  read -r -a names <<< "$NAMES"
  shift_by=$(( (run - 1) % ${#names[@]} ))
  order="${names[*]:$shift_by} ${names[*]:0:$shift_by}"
  for name in $order; do
    first_answer "$name"
    k6run load/compare.js "$OUT/$name-warmup-$run.json" PEER="$name" TODO_URL="$URL" MODE=closed VUS="$VUS" DURATION="$WARMUP"
    t0=$(awk '{print $14 + $15}' "/proc/$PEER_PID/stat")
    k6run load/compare.js "$OUT/$name-loop-$run.json" PEER="$name" TODO_URL="$URL" MODE=closed VUS="$VUS" DURATION="$DURATION"
    t1=$(awk '{print $14 + $15}' "/proc/$PEER_PID/stat")
    outbox_drain "$REDIS_PORT" 180 > /dev/null || die "$name: the outbox did not drain in 180 s"
    stop_peer
    python3 - "$OUT/$name-loop-$run.json" "$name" "$run" "$(( t1 - t0 ))" "$(getconf CLK_TCK)" >> "$OUT/loops.txt" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["compare"]
cpu = int(sys.argv[4]) * 1000 / int(sys.argv[5]) / c["requests"]  # todo-api's own CPU ms per answered request
print(sys.argv[2], sys.argv[3], f"{c['throughput']:.1f}", f"{c['p50']:.1f}", f"{c['p99']:.1f}", c["requests"],
      f"{cpu:.3f}")
PY
    say "  run $run, $name: $(tail -n 1 "$OUT/loops.txt")"
  done
done

python3 - "$OUT" "$VUS" "$WARMUP" "$DURATION" $NAMES <<'PY' | tee "$OUT/databind.txt"
import statistics, sys
out, vus, warmup, duration = sys.argv[1:5]
names = sys.argv[5:]
start = {}
for line in open(f"{out}/start.txt"):
    name, ms = line.split()
    start.setdefault(name, []).append(int(ms))
loops = {}
for line in open(f"{out}/loops.txt"):
    name, run, tput, p50, p99, n, cpu = line.split()
    loops.setdefault(name, []).append((float(tput), float(p50), float(p99), float(cpu)))
print(f"start to first answered POST /tasks (ms, median of {len(start['baseline'])}; each start):")
for name in names:
    print(f"  {name:10} {statistics.median(start[name]):6.0f}   {start[name]}")
print(f"closed loop POST /tasks, {vus} users, {duration} after {warmup} not counted (/s, median of "
      f"{len(loops['baseline'])}; p50/p99 ms of the median run; each run /s):")
for name in names:
    runs = sorted(loops[name])
    mid = runs[len(runs) // 2]
    cpu = statistics.median(r[3] for r in loops[name])
    print(f"  {name:10} {mid[0]:7.1f}/s  p50 {mid[1]:.1f} p99 {mid[2]:.1f}  todo-api CPU {cpu:.3f} ms/request   "
          f"{[r[0] for r in loops[name]]} /s, {[r[3] for r in loops[name]]} CPU ms/request")
b = statistics.median(start["baseline"])
tb = statistics.median(r[0] for r in loops["baseline"])
for name in names[1:]:
    n = statistics.median(start[name])
    tn = statistics.median(r[0] for r in loops[name])
    # Pair by pair as well: each run's throughput against the baseline's of the same run.
    pairs = [r[0] / br[0] for r, br in zip(loops[name], loops["baseline"])]
    cn = statistics.median(r[3] for r in loops[name])
    cb = statistics.median(r[3] for r in loops["baseline"])
    print(f"{name} against baseline: first answer {n - b:+.0f} ms ({(n / b - 1) * 100:+.1f}%), throughput "
          f"{(tn / tb - 1) * 100:+.1f}% (run by run: {', '.join(f'{(p - 1) * 100:+.1f}%' for p in pairs)}), "
          f"todo-api CPU per request {(cn / cb - 1) * 100:+.1f}%")
PY
