#!/usr/bin/env bash
# The benchmark of docs/BENCHMARKS.md: starts the embedded system (in-memory store, then Redis) and, beside it on
# other ports, the system as it was before notifications were durable (BASELINE_REF, built from this repository's
# history in a worktree under the results folder), and for each store runs
#   - POST /tasks at a fixed rate (k6 load/create-tasks.js) against this system, against the baseline, and the floor
#     (load/floor.js: the same state save and invocation sent by k6 straight to the sidecar) at the same rate,
#     alternately, RUNS times;
#   - the highest rate held (load/max-rate.js) for todo-api, the baseline and the floor;
# while sampling CPU and RSS of every Java process and every daprd; and measures each service's start-to-ready time.
# Writes the raw results to load/results/bench-<time>/, then docs/BENCHMARKS.md and docs/benchmark.png.
#
#   scripts/benchmark.sh            (RATE=300 DURATION=60s RUNS=3 STORES="memory redis" MAX_RATES=... STEP=10s WARMUP=60s
#                                    BASELINE_REF=7cb9a04, the last commit before the outbox; BASELINE_REF= skips it)
#   BASELINE_REF=insecure STORES=memory scripts/benchmark.sh
#                                   the cost of security: the baseline is this same checkout started with --insecure
#                                   (no Sentry, mTLS, access control or tokens); the results go to the "Cost of
#                                   security" section of docs/BENCHMARKS.md, and the rest of it stays as it is
#   BASELINE_REF=unobserved STORES=memory scripts/benchmark.sh
#                                   the cost of tracing and metrics: the baseline is this same checkout started with
#                                   --no-tracing --no-metrics; its own section of docs/BENCHMARKS.md, the same way
#   scripts/benchmark.sh peers      todo-api against what a team would pick instead, on the same sidecars: the seed's
#                                   FastAPI service and Spring Boot with the Dapr Java SDK (scripts/benchmark-peers.sh)
#   scripts/benchmark.sh cpu        where a create's time goes: the floor and todo-api, closed loop, CPU per create of
#                                   every process and a profile of todo-api's sidecar (scripts/benchmark-cpu.sh)
#   scripts/benchmark.sh hog        a CPU hog on every core for 5 s under 20 creates/s: how many creates are refused,
#                                   for how long after it, and that nothing accepted is lost (scripts/benchmark-hog.sh)
#   scripts/benchmark.sh complete   creates and completions (load/create-complete.js) at RATES=25,50,75,100: completions,
#                                   charges and notifications a second, latency, CPU and RSS (scripts/benchmark-complete.sh)
# Takes about 30 minutes with the defaults. All traffic goes to 127.0.0.1; every run is bounded by its duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# scripts/benchmark.sh peers: todo-api against the seed's FastAPI service and Spring Boot + Dapr SDK (benchmark-peers.sh)
[ "${1:-}" = peers ] && exec "$ROOT/scripts/benchmark-peers.sh"
# scripts/benchmark.sh hog: a CPU hog on every core for 5 s under 20 creates/s, refusals and losses (benchmark-hog.sh)
[ "${1:-}" = hog ] && exec "$ROOT/scripts/benchmark-hog.sh"
# scripts/benchmark.sh cpu: the floor and todo-api, CPU per create of every process, daprd's profile (benchmark-cpu.sh)
[ "${1:-}" = cpu ] && exec "$ROOT/scripts/benchmark-cpu.sh"
# scripts/benchmark.sh complete: POST /tasks then PATCH to completed, completions/charges/notifications a second
[ "${1:-}" = complete ] && exec "$ROOT/scripts/benchmark-complete.sh"
SCRIPT_NAME=benchmark
. "$ROOT/scripts/lib.sh"
export K6_NO_USAGE_REPORT=true # k6 would send usage statistics to stats.grafana.org after each run
cd "$ROOT"

RATE=${RATE:-300}
DURATION=${DURATION:-60s}
RUNS=${RUNS:-3}
STORES=${STORES:-memory redis}
MAX_RATES=${MAX_RATES:-200,300,400,500,600,700,800,900,1000,1200,1400}
STEP=${STEP:-10s}
P99_MS=${P99_MS:-250}
WARMUP=${WARMUP:-60s}
OFFSET=${PORT_OFFSET:-600}
OUT=${BENCH_OUT:-$ROOT/load/results/bench-$(date -u +%Y%m%dT%H%M%SZ)}
BASELINE_REF=${BASELINE_REF-7cb9a04}
BASE_OFFSET=$((OFFSET + 50))
mkdir -p "$OUT"
say "results go to $OUT"

require_java_and_maven
apt_install python3-matplotlib curl procps
K6=$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)
DAPRD=$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)
(mvn -B -q -ntp package -DskipTests) || die "the Maven build failed"
BASELINE=""
# However the script ends (done, failed, Ctrl-C), nothing it started stays behind: the probe of start-up, both systems,
# the baseline's worktree.
PROBE_PID=""
cleanup() {
  [ -z "$PROBE_PID" ] || kill "$PROBE_PID" 2>/dev/null || true
  local d
  for d in "$OUT"/run-memory "$OUT"/run-redis; do
    [ -d "$d" ] && RUN_DIR=$d PORT_OFFSET=$OFFSET "$ROOT/scripts/run.sh" stop > /dev/null 2>&1
  done
  if [ -n "$BASELINE" ]; then
    for d in "$OUT"/run-baseline-memory "$OUT"/run-baseline-redis; do
      [ -d "$d" ] && RUN_DIR=$d PORT_OFFSET=$BASE_OFFSET "$BASELINE/scripts/run.sh" stop > /dev/null 2>&1
    done
    [ "$BASELINE" = "$ROOT" ] || git -C "$ROOT" worktree remove --force "$BASELINE" 2>/dev/null
  fi
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
BASELINE_FLAGS=()
if [ "$BASELINE_REF" = insecure ]; then
  BASELINE=$ROOT
  BASELINE_FLAGS=(--insecure)
  say "the baseline is this checkout with --insecure"
elif [ "$BASELINE_REF" = unobserved ]; then
  BASELINE=$ROOT
  BASELINE_FLAGS=(--no-tracing --no-metrics)
  say "the baseline is this checkout with --no-tracing --no-metrics"
elif [ -n "$BASELINE_REF" ]; then
  BASELINE=$OUT/baseline-src
  say "building the baseline $BASELINE_REF ($(git log -1 --format=%s "$BASELINE_REF" | cut -c1-70)) in $BASELINE"
  git worktree add -f --detach "$BASELINE" "$BASELINE_REF" > /dev/null 2>&1 || die "git worktree add $BASELINE_REF failed"
  (cd "$BASELINE" && mvn -B -q -ntp package -DskipTests) || die "the baseline's Maven build failed"
fi

# Start-to-ready, three times each: a JVM service until its /health answers, daprd until /v1.0/healthz answers.
time_to_ready() { # name url command...
  local name=$1 url=$2
  shift 2
  local start pid ms
  start=$(date +%s%N)
  "$@" > "$OUT/startup-$name.log" 2>&1 &
  pid=$!
  PROBE_PID=$pid
  until curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$url" | grep -q '^2'; do
    kill -0 "$pid" 2>/dev/null || die "$name exited while starting; see $OUT/startup-$name.log"
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 30000 ] || die "$name not ready after 30 s"
    sleep 0.01
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$name $ms" >> "$OUT/startup.txt"
}
# The same JVM options for every JVM of both systems: the baseline's own run.sh defaulted to C2, this one's to C1, and
# a comparison of two JITs is not a comparison of two designs.
JAVA_OPTS_BENCH=${JAVA_OPTS:--XX:+UseSerialGC -Xms32m -Xmx128m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1}
export JAVA_OPTS=$JAVA_OPTS_BENCH
say "measuring start-to-ready (3 times each)"
: > "$OUT/startup.txt"
for i in 1 2 3; do
  # shellcheck disable=SC2086
  time_to_ready notification-service "http://127.0.0.1:$((8091 + OFFSET))/health" \
    env APP_PORT=$((8091 + OFFSET)) java $JAVA_OPTS_BENCH -jar notification-verticle/target/notification-service.jar
  # shellcheck disable=SC2086
  time_to_ready todo-api "http://127.0.0.1:$((8090 + OFFSET))/health/live" \
    env APP_PORT=$((8090 + OFFSET)) DAPR_HTTP_PORT=$((3590 + OFFSET)) java $JAVA_OPTS_BENCH -jar todo-verticle/target/todo-api.jar
  time_to_ready daprd "http://127.0.0.1:$((3590 + OFFSET))/v1.0/healthz" \
    env DAPR_HOST_IP=127.0.0.1 "$DAPRD" --app-id startup-probe --dapr-http-port $((3590 + OFFSET)) \
    --dapr-grpc-port $((20091 + OFFSET)) --dapr-internal-grpc-port $((20092 + OFFSET)) --metrics-port $((9190 + OFFSET)) \
    --dapr-listen-addresses 127.0.0.1 --resources-path dapr/components --config dapr/config.yaml
done

# CPU ticks and RSS of every process of the system, once a second, while $1 runs.
sample() { # csv processes-file
  local csv=$1 processes=$2
  echo "t,name,ticks,rss_kb" > "$csv"
  while true; do
    local now
    now=$(date +%s.%N)
    while read -r name pid _; do
      [ -r "/proc/$pid/stat" ] || continue
      local ticks rss
      ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
      echo "$now,$name,$ticks,$rss" >> "$csv"
    done < "$processes"
    sleep 1
  done
}

drain_time() { # redis-port out-file
  local ms
  echo "backlog at the end of the run: $(outbox_backlog "$1")" > "$2"
  if ms=$(outbox_drain "$1" 120); then
    echo "drained_ms $ms" >> "$2"
  else
    echo "not drained after 120 s: $(outbox_backlog "$1") left" >> "$2"
  fi
}

k6run() { # script summary-json [VAR=value ...]
  local script=$1 summary=$2
  shift 2
  say "k6 $script $*"
  env "$@" SUMMARY_JSON="$summary" "$K6" run -q "$script" > "${summary%.json}.txt" 2>&1 || true
  sed -n '1,4p' "${summary%.json}.txt" | sed 's/^/    /' >&2
}

for store in $STORES; do
  run_dir=$OUT/run-$store
  base_dir=$OUT/run-baseline-$store
  flag=--memory
  [ "$store" = redis ] && flag=--redis
  say "=== $store store: starting the system"
  RUN_DIR=$run_dir PORT_OFFSET=$OFFSET scripts/run.sh --detach "$flag" > "$OUT/run-$store.log" 2>&1 \
    || { tail -n 30 "$OUT/run-$store.log" >&2; die "the system did not start"; }
  todo=http://127.0.0.1:$((8000 + OFFSET))
  dapr=http://127.0.0.1:$((3500 + OFFSET))
  base=http://127.0.0.1:$((8000 + BASE_OFFSET))
  if [ -n "$BASELINE" ]; then
    say "=== $store store: starting the baseline beside it (ports +$BASE_OFFSET)"
    RUN_DIR=$base_dir PORT_OFFSET=$BASE_OFFSET "$BASELINE/scripts/run.sh" --detach "$flag" "${BASELINE_FLAGS[@]}" \
      > "$OUT/run-baseline-$store.log" 2>&1 \
      || { tail -n 30 "$OUT/run-baseline-$store.log" >&2; die "the baseline did not start"; }
  fi
  # The floor calls todo-api's sidecar itself: with the secure default it needs that sidecar's API token, which k6
  # reads from its environment (never from a command line).
  DAPR_API_TOKEN=$(cat "$run_dir/secrets/todo-api.dapr-api-token" 2>/dev/null || true)
  export DAPR_API_TOKEN
  # Warm-up: every JVM of both systems compiles its hot paths before anything is measured; on 2 cores, with eight
  # JVMs, that takes about a minute of load each.
  for url in "$todo" ${BASELINE:+"$base"}; do
    k6run load/create-tasks.js "$OUT/$store-warmup-$((${url##*:} - OFFSET)).json" TODO_URL="$url" RATE=$((RATE / 2)) \
      DURATION="$WARMUP" P99_MS=100000
  done
  k6run load/floor.js "$OUT/$store-floor-warmup.json" DAPR_URL="$dapr" RATE=100 DURATION=5s P99_MS=100000
  for i in $(seq 1 "$RUNS"); do
    sample "$OUT/$store-resources-$i.csv" "$run_dir/processes" &
    sampler=$!
    dashboard=()
    [ "$i" -eq 1 ] && dashboard=(K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PORT=-1 K6_WEB_DASHBOARD_PERIOD=2s
      K6_WEB_DASHBOARD_EXPORT="$OUT/$store-create-report.html")
    k6run load/create-tasks.js "$OUT/$store-create-$i.json" TODO_URL="$todo" RATE="$RATE" DURATION="$DURATION" \
      P99_MS="$P99_MS" "${dashboard[@]}"
    drain_time $((6390 + OFFSET)) "$OUT/$store-drain-$i.txt"
    kill "$sampler"; wait "$sampler" 2>/dev/null || true
    if [ -n "$BASELINE" ]; then
      sample "$OUT/$store-baseline-resources-$i.csv" "$base_dir/processes" &
      sampler=$!
      k6run load/create-tasks.js "$OUT/$store-baseline-$i.json" TODO_URL="$base" RATE="$RATE" DURATION="$DURATION" \
        P99_MS="$P99_MS"
      kill "$sampler"; wait "$sampler" 2>/dev/null || true
    fi
    dashboard=()
    [ "$i" -eq 1 ] && dashboard=(K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PORT=-1 K6_WEB_DASHBOARD_PERIOD=2s
      K6_WEB_DASHBOARD_EXPORT="$OUT/$store-floor-report.html")
    k6run load/floor.js "$OUT/$store-floor-$i.json" DAPR_URL="$dapr" RATE="$RATE" DURATION="$DURATION" \
      P99_MS="$P99_MS" "${dashboard[@]}"
  done
  k6run load/max-rate.js "$OUT/$store-maxrate-todo.json" TARGET=todo TODO_URL="$todo" RATES="$MAX_RATES" STEP="$STEP" P99_MS="$P99_MS"
  if [ -n "$BASELINE" ]; then
    k6run load/max-rate.js "$OUT/$store-maxrate-baseline.json" TARGET=todo TODO_URL="$base" RATES="$MAX_RATES" STEP="$STEP" P99_MS="$P99_MS"
  fi
  k6run load/max-rate.js "$OUT/$store-maxrate-floor.json" TARGET=floor DAPR_URL="$dapr" RATES="$MAX_RATES" STEP="$STEP" P99_MS="$P99_MS"
  cp "$run_dir/processes" "$OUT/$store-processes.txt"
  RUN_DIR=$run_dir PORT_OFFSET=$OFFSET scripts/run.sh stop > /dev/null 2>&1
  [ -z "$BASELINE" ] || RUN_DIR=$base_dir PORT_OFFSET=$BASE_OFFSET "$BASELINE/scripts/run.sh" stop > /dev/null 2>&1
done

cat > "$OUT/settings.env" <<SETTINGS
RATE=$RATE
DURATION=$DURATION
RUNS=$RUNS
STORES="$STORES"
MAX_RATES=$MAX_RATES
STEP=$STEP
P99_MS=$P99_MS
WARMUP=$WARMUP
BASELINE_REF="$BASELINE_REF"
BASELINE_SUBJECT="$( [ -n "$BASELINE_REF" ] && [ "$BASELINE_REF" != insecure ] && [ "$BASELINE_REF" != unobserved ] && git log -1 --format=%s "$BASELINE_REF" | cut -c1-100 | tr -d '"')"
JAVA_OPTS="$JAVA_OPTS_BENCH"
DAPRD_VERSION=$("$DAPRD" --version | tail -n 1)
K6_VERSION="$("$K6" version | head -n 1)"
JAVA_VERSION="$(java -version 2>&1 | head -n 1)"
SETTINGS
/usr/bin/python3 "$ROOT/scripts/bench_report.py" "$OUT" "$ROOT/docs"
say "wrote docs/BENCHMARKS.md and docs/benchmark.png from $OUT"
