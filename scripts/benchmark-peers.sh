#!/usr/bin/env bash
# The comparison with what a team would pick instead (scripts/benchmark.sh peers runs this): todo-api against
#   fastapi          the seed's own FastAPI service, as the lesson writes it (load/peers/fastapi-seed; one change,
#                    `def` for `async def`, without which every request fails), the Python dapr SDK, in a venv
#   spring           Spring Boot 3.5.7 (MVC) with the Dapr Java SDK 1.16.1, as the Dapr docs show
#                    (load/peers/spring-boot-dapr-sdk), with todo-api's JVM options
#   spring-defaults  the same jar on the JVM's defaults
# Each takes todo-api's place behind the same daprd, with the same 3 notification-service replicas, Sentry, mTLS,
# access control, API tokens and store: scripts/run.sh's secure default, whose todo-api (traced, with metrics, durable
# notifications through the outbox) is the first peer. One k6 script for all of them (load/compare.js, and
# load/max-rate.js TARGET=any), with one check all of them meet: a 2xx answer holding the new pending task. And the
# notifications are counted where they arrive, at the replicas (notifications_delivered_total).
#
# For each peer, in an order that turns every run (alternating): start it and time the first answered POST /tasks
# from the process's start; 20 s closed loop straight away (its first 20 s); DURATION closed loop, warm, with VUS
# users (throughput, p50/p90/p99, CPU ms per request, RSS); stop it. Then, once per peer, the highest constant arrival
# rate held: plateaus from 50% to 130% of its warm closed-loop throughput, p99 under P99_MS. Figures to
# load/results/peers-<time>/peers.json, then docs/BENCHMARKS.md (its peers section) and docs/peers.png.
#
#   scripts/benchmark.sh peers                    RUNS=3 DURATION=30s VUS=32 STEP=10s P99_MS=250 (about 25 minutes)
#   SMOKE=1 scripts/benchmark.sh peers            seconds-long, each peer once (the test command); writes no docs
# Traffic goes to 127.0.0.1 only; every run is bounded by its duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=benchmark-peers
. "$ROOT/scripts/lib.sh"
. "$ROOT/scripts/peer-process.sh"
export K6_NO_USAGE_REPORT=true # k6 would send usage statistics to stats.grafana.org after each run
cd "$ROOT"

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  RUNS=1 DURATION=3s COLD=3s VUS=4 STEP=2s
fi
RUNS=${RUNS:-3}
DURATION=${DURATION:-30s}
COLD=${COLD:-20s}
VUS=${VUS:-32}
STEP=${STEP:-10s}
P99_MS=${P99_MS:-250}
PEERS=${PEERS:-todo-api fastapi spring spring-defaults}
OFFSET=${PORT_OFFSET:-650}
OUT=${BENCH_OUT:-$ROOT/load/results/peers-$(date -u +%Y%m%dT%H%M%SZ)}
CACHE=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}
JAVA_OPTS_BENCH=${JAVA_OPTS:--XX:+UseSerialGC -Xms32m -Xmx128m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1}
mkdir -p "$OUT"
say "results go to $OUT"

# --- the builds -----------------------------------------------------------------------------------------------------
require_java_and_maven
apt_install curl procps python3-venv redis-tools python3-matplotlib
K6=$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)
"$ROOT/scripts/setup-daprd.sh" > /dev/null
started=$(date +%s)
(mvn -B -q -ntp package -DskipTests) || die "the Maven build of todo-api failed"
say "todo-api built in $(( $(date +%s) - started )) s"
started=$(date +%s)
SPRING_DIR=$ROOT/load/peers/spring-boot-dapr-sdk
(mvn -B -q -ntp -f "$SPRING_DIR/pom.xml" package -DskipTests) || die "the Maven build of the Spring Boot peer failed"
SPRING_JAR=$SPRING_DIR/target/todo-peer-spring.jar
say "Spring Boot peer built in $(( $(date +%s) - started )) s: $(du -m "$SPRING_JAR" | cut -f1) MB"
# The FastAPI peer's venv, kept by the hash of its requirements (PyPI once per version).
FASTAPI_DIR=$ROOT/load/peers/fastapi-seed
VENV=$CACHE/peer-fastapi-$(sha256sum "$FASTAPI_DIR/requirements.txt" | cut -c1-12)
if [ ! -x "$VENV/bin/uvicorn" ]; then
  started=$(date +%s)
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$FASTAPI_DIR/requirements.txt" \
    || { rm -rf "$VENV"; die "pip install -r $FASTAPI_DIR/requirements.txt failed"; }
  say "FastAPI peer's venv made in $(( $(date +%s) - started )) s: $VENV"
fi
say "FastAPI peer: $("$VENV/bin/python" --version), $("$VENV/bin/pip" freeze | grep -iE '^(dapr|fastapi|uvicorn)==' | tr '\n' ' ')"

# --- the system, and todo-api's place in it ---------------------------------------------------------------------------
RUN_DIR=$OUT/run
PEER_PID=""
SAMPLER=""
cleanup() {
  [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
  [ -z "$PEER_PID" ] || kill "$PEER_PID" 2>/dev/null || true
  command -v docker > /dev/null && { docker rm -f "todo-peer-$OFFSET" > /dev/null 2>&1 || true; }
  [ -d "$RUN_DIR" ] && RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET "$ROOT/scripts/run.sh" stop > /dev/null 2>&1
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "starting the system (scripts/run.sh --detach, ports +$OFFSET)"
RUN_DIR=$RUN_DIR PORT_OFFSET=$OFFSET scripts/run.sh --detach > "$OUT/run.log" 2>&1 \
  || { tail -n 30 "$OUT/run.log" >&2; die "the system did not start"; }
APP_PORT=$((8000 + OFFSET))
URL=http://127.0.0.1:$APP_PORT
DAPR_HTTP=$((3500 + OFFSET))
DAPR_GRPC=$((20001 + OFFSET))
ZIPKIN_ENDPOINT=http://127.0.0.1:$((9411 + OFFSET))/api/v2/spans
REDIS_PORT=$((6390 + OFFSET))
TODO_DAPR_TOKEN=$(cat "$RUN_DIR/secrets/todo-api.dapr-api-token")
TODO_APP_TOKEN=$(cat "$RUN_DIR/secrets/todo-api.app-api-token")
# The replicas' own count of what they delivered (the receiving end), summed over their /metrics.
REPLICA_PORTS=$(awk '$1 ~ /^notification-[0-9]+$/ {n = $3; sub(/.*:/, "", n); print n}' "$RUN_DIR/processes")
delivered() {
  local total=0 port n
  for port in $REPLICA_PORTS; do
    n=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" \
      | awk '/^notifications_delivered_total\{/ {s += $2} END {printf "%d", s}')
    total=$((total + n))
  done
  echo "$total"
}
# run.sh's todo-api leaves; each peer in turn listens on its port, behind the same daprd.
todo_pid=$(awk '$1 == "todo-api" {print $2}' "$RUN_DIR/processes")
kill "$todo_pid" && while kill -0 "$todo_pid" 2>/dev/null; do sleep 0.1; done

# todo-api starts as run.sh starts it: with its class-data archive (scripts/lib.sh class_data_archive);
# todo-api-no-cds, for the start-up trials only, without.
# shellcheck disable=SC2086 # JAVA_OPTS is a list of words
TODO_CDS=$(class_data_archive "$ROOT/todo-verticle/target/todo-api.jar" $JAVA_OPTS_BENCH)
[ -n "$TODO_CDS" ] || die "no class-data archive for todo-api"
# todo-api-jdk25-aot, for the start-up trials only, where a JDK 25 or later is installed (the machine's Temurin JDK
# beside its OpenJDK 17; JDK25_JAVA names another): the same jar and options on that JVM, with an AOT cache (JEP 483
# and 515) recorded by the same training run. run.sh and the images run JDK 17 with the class-data archive.
JDK25_JAVA=${JDK25_JAVA:-}
if [ -z "$JDK25_JAVA" ]; then
  for candidate in /usr/lib/jvm/*/bin/java; do
    major=$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$major" ] && [ "${major%%.*}" -ge 25 ] 2>/dev/null; then JDK25_JAVA=$candidate; break; fi
  done
fi
TODO_AOT=""
if [ -n "$JDK25_JAVA" ]; then
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of words
  TODO_AOT=$(ARCHIVE_JAVA=$JDK25_JAVA ARCHIVE_KIND=aot class_data_archive "$ROOT/todo-verticle/target/todo-api.jar" $JAVA_OPTS_BENCH)
  [ -n "$TODO_AOT" ] && say "start trials on JDK 25 as well: $("$JDK25_JAVA" -version 2>&1 | head -n 1), AOT cache $TODO_AOT"
else
  say "no JDK 25 or later under /usr/lib/jvm: the start trials on JDK 25 with an AOT cache are left out"
fi
# start_peer NAME: starts it on the app port, in the background; sets PEER_PID.
start_peer() {
  local name=$1
  case "$name" in
    todo-api|todo-api-no-cds|todo-api-jdk25-aot)
      local cds=() java=java
      [ "$name" = todo-api ] && cds=(-XX:SharedArchiveFile="$TODO_CDS")
      [ "$name" = todo-api-jdk25-aot ] && { java=$JDK25_JAVA; cds=(-XX:AOTCache="$TODO_AOT"); }
      # shellcheck disable=SC2086 # JAVA_OPTS is a list of words
      env APP_PORT="$APP_PORT" DAPR_HTTP_PORT="$DAPR_HTTP" DAPR_API_TOKEN="$TODO_DAPR_TOKEN" \
        APP_API_TOKEN="$TODO_APP_TOKEN" OTEL_EXPORTER_ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT" \
        "$java" $JAVA_OPTS_BENCH "${cds[@]}" -jar todo-verticle/target/todo-api.jar > "$OUT/peer-$name.log" 2>&1 & ;;
    fastapi)
      env DAPR_HTTP_PORT="$DAPR_HTTP" DAPR_GRPC_PORT="$DAPR_GRPC" DAPR_API_TOKEN="$TODO_DAPR_TOKEN" \
        "$VENV/bin/uvicorn" todo_api:app --app-dir "$FASTAPI_DIR" --host 127.0.0.1 --port "$APP_PORT" \
        --log-level warning --no-access-log > "$OUT/peer-$name.log" 2>&1 & ;;
    spring|spring-defaults)
      local opts=()
      # shellcheck disable=SC2206 # JAVA_OPTS is a list of words
      [ "$name" = spring ] && opts=($JAVA_OPTS_BENCH)
      env DAPR_HTTP_PORT="$DAPR_HTTP" DAPR_GRPC_PORT="$DAPR_GRPC" DAPR_API_TOKEN="$TODO_DAPR_TOKEN" \
        SERVER_ADDRESS=127.0.0.1 SERVER_PORT="$APP_PORT" \
        java "${opts[@]}" -jar "$SPRING_JAR" > "$OUT/peer-$name.log" 2>&1 & ;;
    todo-api-image|todo-api-image-no-cds)
      # The image as Kubernetes runs it (its ENTRYPOINT, with its class-data archive), on the host's network so that
      # it takes todo-api's place behind the same daprd; -no-cds: the same command without the archive.
      local entry=()
      [ "$name" = todo-api-image-no-cds ] && entry=(--entrypoint java "$TODO_IMAGE" -XX:MaxRAMPercentage=75
        -XX:InitialRAMPercentage=25 -XX:+ExitOnOutOfMemoryError -XX:+UseContainerSupport -Djava.io.tmpdir=/tmp
        -Dfile.encoding=UTF-8 -jar /app/app.jar)
      [ "$name" = todo-api-image ] && entry=("$TODO_IMAGE")
      DAPR_API_TOKEN=$TODO_DAPR_TOKEN APP_API_TOKEN=$TODO_APP_TOKEN docker run --rm --name "todo-peer-$OFFSET" \
        --network host -e APP_PORT="$APP_PORT" -e DAPR_HTTP_PORT="$DAPR_HTTP" -e DAPR_API_TOKEN -e APP_API_TOKEN \
        -e OTEL_EXPORTER_ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT" "${entry[@]}" > "$OUT/peer-$name.log" 2>&1 & ;;
    *) die "unknown peer $name (PEERS: todo-api fastapi spring spring-defaults)" ;;
  esac
  PEER_PID=$!
}
# CPU ticks and RSS of the peer's process once a second, while it runs (one line per sample).
sample() { # csv pid
  local csv=$1 pid=$2
  echo "t,ticks,rss_kb" > "$csv"
  while [ -r "/proc/$pid/stat" ]; do
    echo "$(date +%s.%N),$(awk '{print $14 + $15}' "/proc/$pid/stat"),$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" >> "$csv"
    sleep 1
  done
}
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The CPU ticks of the whole system: every process of the run (the sidecars, the replicas, Redis, Sentry, Zipkin,
# Prometheus) and the peer.
system_ticks() {
  local total=0 pid
  for pid in $(awk '{print $2}' "$RUN_DIR/processes") "$PEER_PID"; do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(ticks_of "$pid")))
  done
  echo "$total"
}

# Start-up: START_TRIALS starts of todo-api with and without its class-data archive, alternately, each timed to its
# first answered POST /tasks (the first with the sidecar's connections, the request path and the JIT all cold).
START_TRIALS=${START_TRIALS:-$([ "$SMOKE" = 1 ] && echo 1 || echo 7)}
: > "$OUT/start.txt"
START_VARIANTS="todo-api todo-api-no-cds"
[ -z "$TODO_AOT" ] || START_VARIANTS="$START_VARIANTS todo-api-jdk25-aot"
for trial in $(seq 1 "$START_TRIALS"); do
  for name in $START_VARIANTS; do
    first_answer "$name"
    stop_peer
    echo "$name $FIRST_MS" >> "$OUT/start.txt"
  done
done
# The image's start, the same way: todo-api's image (scripts/build-images.sh) with and without its archive. The image
# is built for the full benchmark; the smoke (the test command's layer 4, before the images' layer) leaves it out.
if [ "$SMOKE" != 1 ]; then
  "$ROOT/scripts/build-images.sh" > "$OUT/build-images.log" 2>&1 || die "scripts/build-images.sh failed (see $OUT/build-images.log)"
  TODO_IMAGE=todo-api:$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$ROOT/pom.xml" | head -n 1)
  for trial in $(seq 1 "$START_TRIALS"); do
    for name in todo-api-image todo-api-image-no-cds; do
      first_answer "$name"
      stop_peer
      echo "$name $FIRST_MS" >> "$OUT/start.txt"
    done
  done
else
  say "the image's start trials run in the full benchmark only (SMOKE=1: the images are built in the next layer)"
fi
say "start to first answered POST /tasks, ms: $(awk '{a[$1] = a[$1] " " $2} END {for (k in a) printf "%s:%s; ", k, a[k]}' "$OUT/start.txt")"

CLK_TCK=$(getconf CLK_TCK)
: > "$OUT/runs.jsonl"
read -r -a peers <<< "$PEERS"
for run in $(seq 1 "$RUNS"); do
  # Turn the order every run: each peer takes each place in turn.
  order=("${peers[@]:$(( (run - 1) % ${#peers[@]} ))}" "${peers[@]:0:$(( (run - 1) % ${#peers[@]} ))}")
  for name in "${order[@]}"; do
    say "run $run, $name: start"
    first_answer "$name"
    ms=$FIRST_MS
    say "  first POST /tasks answered $ms ms after the process started"
    before=$(delivered)
    k6run load/compare.js "$OUT/$name-cold-$run.json" PEER="$name" TODO_URL="$URL" MODE=closed VUS="$VUS" DURATION="$COLD"
    sample "$OUT/$name-resources-$run.csv" "$PEER_PID" &
    SAMPLER=$!
    t0=$(ticks_of "$PEER_PID")
    s0=$(system_ticks)
    k6run load/compare.js "$OUT/$name-warm-$run.json" PEER="$name" TODO_URL="$URL" MODE=closed VUS="$VUS" DURATION="$DURATION"
    t1=$(ticks_of "$PEER_PID")
    # Durable notifications go on after the answers: the outbox publishes each one, and todo-api's subscription
    # handles it (todo-api only; the others have no outbox). The whole system's CPU counts until that is done.
    drain_ms=$(outbox_drain "$REDIS_PORT" 180) || die "$name: the outbox did not drain in 180 s"
    s1=$(system_ticks)
    kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
    sleep 1 # the replicas count the last notifications
    after=$(delivered)
    stop_peer
    python3 - "$OUT/runs.jsonl" "$name" "$run" "$ms" "$OUT/$name-cold-$run.json" "$OUT/$name-warm-$run.json" \
      "$OUT/$name-resources-$run.csv" "$(( t1 - t0 ))" "$CLK_TCK" "$(( after - before ))" "$COLD" "$(( s1 - s0 ))" "$drain_ms" <<'PY'
import csv, json, sys
out, name, run, ms, cold, warm, resources, ticks, clk, delivered, cold_duration, system, drain = sys.argv[1:]
c, w = json.load(open(cold))["compare"], json.load(open(warm))["compare"]
rss = [int(r["rss_kb"]) for r in csv.DictReader(open(resources)) if r["rss_kb"]]
row = {"peer": name, "run": int(run), "first_answer_ms": int(ms), "cold": c, "warm": w,
       "cpu_ms_per_request": (int(ticks) * 1000 / int(clk)) / w["requests"] if w["requests"] else None,
       "system_cpu_ms_per_request": (int(system) * 1000 / int(clk)) / w["requests"] if w["requests"] else None,
       "max_rss_mb": max(rss) / 1024 if rss else None, "drain_ms": int(drain), "delivered": int(delivered),
       "answered": c["requests"] + w["requests"], "cold_duration": cold_duration}
with open(out, "a") as f:
    f.write(json.dumps(row) + "\n")
print(f"  {name}: cold {c['throughput']:.1f}/s, warm {w['throughput']:.1f}/s (p50 {w['p50']:.1f} p99 {w['p99']:.1f} ms), "
      f"{row['cpu_ms_per_request']:.2f} CPU ms a request ({row['system_cpu_ms_per_request']:.2f} the whole system), max RSS {row['max_rss_mb']:.0f} MB, "
      f"{delivered} notifications counted at the replicas for {row['answered']} requests; outbox drained "
      f"{int(drain) / 1000:.1f} s after the run", file=sys.stderr)
PY
  done
done

# The highest constant arrival rate each holds: plateaus from 50% to 130% of its median warm throughput.
for name in "${peers[@]}"; do
  rates=$(python3 - "$OUT/runs.jsonl" "$name" "$SMOKE" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["peer"] == sys.argv[2]]
t = statistics.median(r["warm"]["throughput"] for r in rows)
steps = (0.5, 1.0) if sys.argv[3] == "1" else (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
print(",".join(str(max(5, int(round(t * f / 5.0)) * 5)) for f in steps))
PY
)
  say "$name: highest rate held, plateaus $rates/s"
  first_answer "$name"
  k6run load/compare.js "$OUT/$name-maxwarm.json" PEER="$name" TODO_URL="$URL" MODE=closed VUS="$VUS" DURATION="$COLD"
  # A clean start for the search: the warm-up's outbox backlog handled first (todo-api), as after every run above.
  outbox_drain "$REDIS_PORT" 180 > /dev/null || true
  k6run load/max-rate.js "$OUT/$name-maxrate.json" TARGET=any TODO_URL="$URL" RATES="$rates" STEP="$STEP" P99_MS="$P99_MS"
  stop_peer
done

cat > "$OUT/settings.env" <<SETTINGS
RUNS=$RUNS
DURATION=$DURATION
COLD=$COLD
VUS=$VUS
STEP=$STEP
P99_MS=$P99_MS
PEERS="$PEERS"
JAVA_OPTS="$JAVA_OPTS_BENCH"
DAPRD_VERSION=$("$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)" --version | tail -n 1)
K6_VERSION="$("$K6" version | head -n 1)"
JAVA_VERSION="$(java -version 2>&1 | head -n 1)"
JDK25_VERSION="$([ -z "$JDK25_JAVA" ] || "$JDK25_JAVA" -version 2>&1 | head -n 1)"
PYTHON_PACKAGES="$("$VENV/bin/python" --version) $("$VENV/bin/pip" freeze | grep -iE '^(dapr|fastapi|uvicorn)==' | tr '\n' ' ')"
SMOKE=$SMOKE
SETTINGS
if [ "$SMOKE" = 1 ]; then
  /usr/bin/python3 "$ROOT/scripts/peers_report.py" "$OUT" --check
else
  /usr/bin/python3 "$ROOT/scripts/peers_report.py" "$OUT" "$ROOT/docs"
  say "wrote the peers section of docs/BENCHMARKS.md and docs/peers.png from $OUT"
fi
