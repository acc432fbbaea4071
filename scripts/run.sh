#!/usr/bin/env bash
# Runs the whole system on this machine, on loopback, with real Dapr sidecars and no cluster or container:
# redis-server (Debian's; the outbox's streams and notification-service's delivery record, and with --redis the
# tasks), todo-api with its daprd and a state store (Dapr's in-memory store, or Redis with --redis), and
# notification-service as N replicas (3 by default), each with its own daprd, and billing-service (the ledger of
# completions' charges, in its own state store billingstore) with its daprd in the namespace `billing`
# (NAMESPACE=billing), which todo-api calls as billing-service.billing. Name resolution is Dapr's SQLite
# resolver (dapr/config.yaml). Redis persists to the run folder (append-only file) and keeps its data across stops.
# Secure by default: Dapr's Sentry issues every sidecar an mTLS certificate (SPIFFE id spiffe://public/ns/default/
# <app-id>), notification-service's and billing-service's sidecars let only todo-api invoke them (dapr/security/),
# and API tokens, new for each
# start and kept in 0600 files under the run folder's secrets/, guard each sidecar's API (DAPR_API_TOKEN) and each
# app's sidecar-only routes (APP_API_TOKEN). docs/security.md.
#
#   scripts/run.sh                 start, wait until ready, print a summary, stay in the foreground; Ctrl-C stops all
#   scripts/run.sh --detach        the same, then return and leave it running; `scripts/run.sh stop` stops it
#   scripts/run.sh --redis         Redis as the state store of the tasks too, as in the seed
#   scripts/run.sh --state-components DIR
#                                  your own `statestore` component (a folder of Dapr component files) instead of
#                                  dapr/state-memory or dapr/state-redis; REDIS_HOST is set for it (envRef). Without
#                                  outboxPublishPubsub/outboxPublishTopic todo-api refuses creates and completions
#                                  (docs/api.md, Troubleshooting) and this says so instead of waiting for its readiness
#   scripts/run.sh --replicas 5    another number of notification-service replicas
#   scripts/run.sh --insecure      no Sentry, no mTLS, no access control, no API tokens (for comparison only)
#   scripts/run.sh --no-tracing    no Zipkin, sampling 0 in the sidecars, no tracer in the apps (for comparison)
#   scripts/run.sh --no-metrics    no Prometheus, no metrics in the sidecars (--enable-metrics=false, metric.enabled
#                                  false) or the apps (METRICS=off) (for comparison: benchmark.sh BASELINE_REF=unobserved)
#   scripts/run.sh status | stop
#
# Tracing is on by default: a Zipkin server (127.0.0.1:9411, scripts/setup-zipkin.sh) gets every span, with sampling 1,
# from every sidecar (a generated Dapr Configuration, tracing.yaml in the run folder) and from both apps (Vert.x's
# OpenTelemetry, OTEL_EXPORTER_ZIPKIN_ENDPOINT): one trace from the client through both sidecars to the replica. A
# Prometheus (127.0.0.1:19090, scripts/setup-go-tool.sh prometheus) scrapes every app's /metrics and every sidecar's
# metrics port; scripts/live.py shows the run live.
#
# Environment: RUN_DIR (default .run; logs, PIDs, the name-resolution database, secrets/), PORT_OFFSET (default 0;
# added to every port so a second system can run beside the first), JAVA_OPTS, TODO_ENV, NOTIFICATION_ENV and BILLING_ENV
# (extra "VAR=value ..." for todo-api, for every notification-service replica and for billing-service), SAMPLING_RATE (the sidecars' samplingRate,
# default 1), SCRAPE_INTERVAL (Prometheus's, default 2s), DAPR_API_LOGGING=off (no --enable-api-logging: one log line
# per API call, measured at no cost we could see), DAPR_PROFILING=on (each sidecar serves Go's pprof on 127.0.0.1, at
# its metrics port + 5: scripts/benchmark.sh cpu reads it), SENTRY_WORKLOAD_CERT_TTL (default 24h)
# and SENTRY_ALLOWED_CLOCK_SKEW (default 15m): the life of the sidecars' certificates (dapr/security/sentry.yaml).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=run
. "$ROOT/scripts/lib.sh"

STORE=${STATE_STORE:-memory}
STATE_COMPONENTS=
REPLICAS=${NOTIFICATION_REPLICAS:-3}
DETACH=0
SECURE=1
TRACING=1
METRICS=1
SAMPLING_RATE=${SAMPLING_RATE:-1}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-2s}
COMMAND=start
while [ $# -gt 0 ]; do
  case "$1" in
    --redis) STORE=redis ;;
    --memory) STORE=memory ;;
    --state-components) [ $# -ge 2 ] || die "--state-components needs a folder"; STATE_COMPONENTS=$2; shift ;;
    --replicas) [ $# -ge 2 ] || die "--replicas needs a number"; REPLICAS=$2; shift ;;
    --detach|-d) DETACH=1 ;;
    --insecure) SECURE=0 ;;
    --no-tracing) TRACING=0 ;;
    --no-metrics) METRICS=0 ;;
    start|stop|status) COMMAND=$1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see scripts/run.sh --help)" ;;
  esac
  shift
done
case "$REPLICAS" in ''|*[!0-9]*) die "--replicas must be a number from 1 to 9, got '$REPLICAS'" ;; esac
[ "$REPLICAS" -ge 1 ] && [ "$REPLICAS" -le 9 ] || die "--replicas must be from 1 to 9, got $REPLICAS"

if [ -n "$STATE_COMPONENTS" ]; then
  [ -d "$STATE_COMPONENTS" ] || die "--state-components: '$STATE_COMPONENTS' is not a folder"
  STATE_COMPONENTS=$(cd "$STATE_COMPONENTS" && pwd)
  grep -lqs 'name: *statestore' "$STATE_COMPONENTS"/*.y*ml \
    || die "--state-components: no component named 'statestore' in $STATE_COMPONENTS (todo-api's STATE_STORE_NAME)"
  STORE=$STATE_COMPONENTS
else
  STATE_COMPONENTS=$ROOT/dapr/state-$STORE
fi

RUN_DIR=${RUN_DIR:-$ROOT/.run}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
LOG_DIR=$RUN_DIR/logs
PROCESSES=$RUN_DIR/processes
O=${PORT_OFFSET:-0}

# Port plan (scripts/lib.sh plan_port): process k (0 = todo-api, 1..N = notification-service replicas, N+1 =
# billing-service) gets app port
# 8000+k and sidecar ports 3500+10k (HTTP), 20001+10k (gRPC), 20002+10k (internal gRPC), 9090+10k (metrics);
# redis-server 6390. PORT_OFFSET is added to all. The ports stay the same from one start to the next, so a process
# restarted alone finds the others.
# Not Dapr's 50001/50002: those lie in Linux's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999), where any
# outgoing connection may hold the port already; CI once saw daprd exit with "failed to start internal gRPC server:
# ... bind: address already in use" that way. Every port here is below 32768 and outside the NodePort range.
app_port() { plan_port app "$1" "$O"; }
http_port() { plan_port http "$1" "$O"; }
grpc_port() { plan_port grpc "$1" "$O"; }
internal_port() { plan_port internal "$1" "$O"; }
metrics_port() { plan_port metrics "$1" "$O"; }
REDIS_PORT=$(plan_port redis 0 "$O")
# Sentry: its gRPC port (the sidecars ask it for certificates), healthz and metrics; in the k = 0 block, which no
# sidecar uses. Sentry 1.18.3 binds healthz and metrics on every interface (its flags for their addresses are not read).
SENTRY_PORT=$(plan_port sentry 0 "$O")
SENTRY_HEALTHZ_PORT=$(plan_port sentry-healthz 0 "$O")
SENTRY_METRICS_PORT=$(plan_port sentry-metrics 0 "$O")
SECRETS=$RUN_DIR/secrets
ZIPKIN_PORT=$(plan_port zipkin 0 "$O")
PROMETHEUS_PORT=$(plan_port prometheus 0 "$O")

BILLING=$((REPLICAS + 1)) # billing-service's process number in the port plan

alive() { kill -0 "$1" 2>/dev/null; }

stop_all() {
  [ -f "$PROCESSES" ] || { say "nothing running (no $PROCESSES)"; return 0; }
  say "stopping"
  # shellcheck disable=SC2046 # one PID a word
  stop_pids $(awk '{print $2}' "$PROCESSES")
  rm -f "$PROCESSES"
  say "stopped; logs stay in $LOG_DIR"
}

status() {
  [ -f "$PROCESSES" ] || { say "not running"; return 1; }
  local down=0
  printf '%-28s %-8s %-6s %s\n' NAME PID STATE URL
  while read -r name pid url; do
    if alive "$pid"; then state=up; else state=DOWN; down=1; fi
    printf '%-28s %-8s %-6s %s\n' "$name" "$pid" "$state" "$url"
  done < "$PROCESSES"
  return $down
}

case "$COMMAND" in
  stop) stop_all; exit 0 ;;
  status) status; exit $? ;;
esac

if [ -f "$PROCESSES" ]; then
  while read -r _ pid _; do
    alive "$pid" && die "already running (see scripts/run.sh status); stop it first with scripts/run.sh stop"
  done < "$PROCESSES"
  rm -f "$PROCESSES"
fi

port_in_use "$REDIS_PORT" && die "port $REDIS_PORT (redis-server) is already in use; stop what uses it, or set PORT_OFFSET"
if [ $SECURE -eq 1 ]; then
  for p in "$SENTRY_PORT" "$SENTRY_HEALTHZ_PORT" "$SENTRY_METRICS_PORT"; do
    port_in_use "$p" && die "port $p (Sentry) is already in use; stop what uses it, or set PORT_OFFSET"
  done
fi
[ $METRICS -eq 0 ] || ! port_in_use "$PROMETHEUS_PORT" || die "port $PROMETHEUS_PORT (Prometheus) is already in use; stop what uses it, or set PORT_OFFSET"
[ $TRACING -eq 0 ] || ! port_in_use "$ZIPKIN_PORT" \
  || die "port $ZIPKIN_PORT (Zipkin) is already in use; stop what uses it, or set PORT_OFFSET"
for k in $(seq 0 "$BILLING"); do
  for p in "$(app_port "$k")" "$(http_port "$k")" "$(grpc_port "$k")" "$(internal_port "$k")" "$(metrics_port "$k")"; do
    port_in_use "$p" && die "port $p is already in use; stop what uses it, or set PORT_OFFSET (e.g. PORT_OFFSET=100)"
  done
done

# 1. The jars, built when missing or older than the sources.
require_java_and_maven
TODO_JAR=$ROOT/todo-verticle/target/todo-api.jar
NOTIFICATION_JAR=$ROOT/notification-verticle/target/notification-service.jar
BILLING_JAR=$ROOT/billing-verticle/target/billing-service.jar
stale=0
for jar in "$TODO_JAR" "$NOTIFICATION_JAR" "$BILLING_JAR"; do
  if [ ! -f "$jar" ] || [ -n "$(find "$ROOT"/pom.xml "$ROOT"/*/pom.xml "$ROOT"/*/src/main -newer "$jar" -print -quit)" ]; then
    stale=1
  fi
done
if [ $stale -eq 1 ]; then
  say "building the jars (mvn package -DskipTests)"
  (cd "$ROOT" && mvn -B -q -ntp package -DskipTests) || die "the Maven build failed"
fi

# 2. daprd, built once from the Go module proxy and cached.
DAPRD=$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)
[ -x "$DAPRD" ] || die "scripts/setup-daprd.sh did not give a daprd binary"
[ $TRACING -eq 0 ] || ZIPKIN_JAR=$("$ROOT/scripts/setup-zipkin.sh" | tail -n 1)
[ $METRICS -eq 0 ] || PROMETHEUS=$("$ROOT/scripts/setup-go-tool.sh" prometheus | tail -n 1)
if [ $SECURE -eq 1 ]; then
  SENTRY=$("$ROOT/scripts/setup-daprd.sh" sentry | tail -n 1)
  [ -x "$SENTRY" ] || die "scripts/setup-daprd.sh sentry did not give a sentry binary"
fi

mkdir -p "$LOG_DIR"
: > "$PROCESSES"
READY=0
trap '[ $READY -eq 1 ] || { say "start failed; stopping what was started"; stop_all; }' EXIT

record() { echo "$1 $2 $3" >> "$PROCESSES"; }

start_process() { # name log command...
  local name=$1 log=$2
  shift 2
  nohup "$@" > "$log" 2>&1 < /dev/null &
  echo $!
}

wait_http() { # what url timeout_s pid log [header file, read by curl: the token never is on a command line]
  local what=$1 url=$2 timeout=$3 pid=$4 log=$5 headers=()
  [ -n "${6:-}" ] && headers=(-H "@$6")
  local deadline=$(( $(date +%s) + timeout ))
  while true; do
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${headers[@]}" "$url" || true)
    case "$code" in 2??) return 0 ;; esac
    alive "$pid" || { say "$what exited; the end of its log ($log):"; tail -n 25 "$log" >&2; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { say "$what not ready after ${timeout}s ($url answered '$code'); the end of its log:"; tail -n 25 "$log" >&2; return 1; }
    sleep 0.2
  done
}

# todo-api's readiness, or its outbox check's verdict that the state store has no outbox: that one does not pass with
# time, so it is said at once (the system is left running, creates refused) instead of after the timeout.
wait_todo_ready() { # url timeout_s pid log
  local url=$1 timeout=$2 pid=$3 log=$4 body code
  local deadline=$(( $(date +%s) + timeout ))
  while true; do
    body=$(curl -s --max-time 2 -w '\n%{http_code}' "$url" || true)
    code=${body##*$'\n'}
    case "$code" in 2??) return 0 ;; esac
    if printf '%s' "$body" | grep -q '"missing_metadata"'; then
      say "WARNING: todo-api is not ready: $(grep -o 'state store component [^"]*' <<< "$body" | head -n 1)"
      OUTBOX_MISSING=1
      return 0
    fi
    alive "$pid" || { say "todo-api exited; the end of its log ($log):"; tail -n 25 "$log" >&2; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { say "todo-api not ready after ${timeout}s ($url answered '$code'); the end of its log:"; tail -n 25 "$log" >&2; return 1; }
    sleep 0.2
  done
}
OUTBOX_MISSING=0

# 3. redis-server: append-only file in the run folder, fsync once a second. A crash of redis-server loses nothing it
# acknowledged (it writes the file before it answers); a crash of the machine can lose the last second or so.
command -v redis-server >/dev/null || apt_install redis-server redis-tools
mkdir -p "$RUN_DIR/redis"
say "starting redis-server on 127.0.0.1:$REDIS_PORT (data in $RUN_DIR/redis, kept across stops)"
pid=$(start_process redis "$LOG_DIR/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
  --dir "$RUN_DIR/redis" --appendonly yes --appendfsync always --save "" --protected-mode yes --set-proc-title no)
record redis "$pid" "redis://127.0.0.1:$REDIS_PORT"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || die "redis-server did not start; see $LOG_DIR/redis.log"
declare -a SIDECAR_ENV=(DAPR_HOST_IP=127.0.0.1 REDIS_HOST="127.0.0.1:$REDIS_PORT")
# Dapr's outbox publishes an event of its internal topic only once it finds the transaction's marker in the state
# store. With the in-memory store the markers, like the tasks, did not outlive the last run's sidecar, so the events
# that run left unpublished never can be: daprd waits 11 s on each (1 s, then its backoff) before it drops it. The
# 15,000 that a run stopped under overload left kept todo-api's sidecar at 155% of a core after a new start, and 78% of
# the creates of its first 40 s failed (its state breaker opened). Drop them now. (Events already published to
# `notifications` are left: they are phantoms now, and todo-api drops them at once.) Redis mode keeps the markers, and
# every event.
OUTBOX_STREAM=defaulttodo-apinotificationsoutbox # Dapr: namespace + app id + outboxPublishTopic + "outbox"
if [ "$STORE" = memory ]; then
  left=$(redis-cli -p "$REDIS_PORT" XLEN "$OUTBOX_STREAM" 2>/dev/null || echo 0)
  if [ "${left:-0}" -gt 0 ]; then
    say "dropping the $left entries of the last run's outbox stream $OUTBOX_STREAM: their markers were in the in-memory store"
    redis-cli -p "$REDIS_PORT" DEL "$OUTBOX_STREAM" > /dev/null
  fi
fi

# 3b. Zipkin, the trace backend (in memory; its UI and API on 127.0.0.1:$ZIPKIN_PORT), started now and waited for just
# before the first sidecar, so that its JVM starts while the replicas do. The sidecars trace everything (sampling 1)
# and send their spans to it; so do both apps.
TRACING_CONFIG=()
declare -a TRACING_ENV=()
if [ $TRACING -eq 1 ]; then
  say "starting Zipkin on 127.0.0.1:$ZIPKIN_PORT (traces kept in memory)"
  # Its in-memory store keeps the last 25,000 spans (about 2,000 creates, 12 spans each; about 70 MB, measured with
  # jcmd GC.class_histogram: 2.8 KB a span with Dapr's tags) and drops the oldest traces beyond. Zipkin's default,
  # 500,000, does not fit a small heap: under load (300 creates/s, about 3,600 spans/s) it left a 128 MB heap full and
  # Zipkin in back-to-back full collections (992 in 5 minutes, jstat), taking a third of a core from the system it
  # watches. Full tiered compilation: it runs for as long as the system does.
  zipkin_pid=$(start_process zipkin "$LOG_DIR/zipkin.log" java -Xms64m -Xmx192m -XX:+UseSerialGC \
    -XX:+ExitOnOutOfMemoryError -jar "$ZIPKIN_JAR" "--armeria.ports[0].port=$ZIPKIN_PORT" \
    "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].protocols[0]=http" "--zipkin.storage.mem.max-spans=25000")
  record zipkin "$zipkin_pid" "http://127.0.0.1:$ZIPKIN_PORT/zipkin/"
  cat > "$RUN_DIR/tracing.yaml" <<YAML
# Made by scripts/run.sh for this start: every sidecar traces every call and sends its spans to the run's Zipkin.
# Merged over dapr/config.yaml (a later --config wins for the fields it sets).
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: tracing
spec:
  tracing:
    samplingRate: "$SAMPLING_RATE"
    zipkin:
      endpointAddress: http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans
YAML
  TRACING_CONFIG=(--config "$RUN_DIR/tracing.yaml")
  TRACING_ENV=(OTEL_EXPORTER_ZIPKIN_ENDPOINT="http://127.0.0.1:$ZIPKIN_PORT/api/v2/spans")
else
  TRACING_ENV=(OTEL_SDK_DISABLED=true)
fi
# 3c. Prometheus (127.0.0.1:$PROMETHEUS_PORT, its API; data in the run folder): scrapes every app's /metrics and every
# sidecar's metrics port every SCRAPE_INTERVAL, 2 s: a graph that follows a load run. Against 15 s under load it cost
# nothing we could tell from run-to-run noise (docs/notes/issue-21.md). The sidecars' targets carry the labels Dapr's
# Grafana dashboards filter on (app_id, namespace, service). The targets that are not up yet are down until they are.
# --no-metrics: none of it; the apps run with METRICS=off and the sidecars with --enable-metrics=false.
declare -a METRICS_ENV=() METRICS_FLAGS=()
if [ $METRICS -eq 1 ]; then
  {
    printf 'global:\n  scrape_interval: %s\n  scrape_timeout: 1s\nscrape_configs:\n' "$SCRAPE_INTERVAL"
    printf '  - job_name: todo-api\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n        labels: {instance_name: todo-api}\n' "$(app_port 0)"
    printf '  - job_name: notification-service\n    static_configs:\n'
    for k in $(seq 1 "$REPLICAS"); do
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {instance_name: notification-%s}\n' "$(app_port "$k")" "$k"
    done
    printf '  - job_name: billing-service\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n        labels: {instance_name: billing-1}\n' "$(app_port "$BILLING")"
    printf '  - job_name: dapr-sidecars\n    static_configs:\n'
    printf '      - targets: ["127.0.0.1:%s"]\n        labels: {app_id: todo-api, namespace: default, service: todo-api-dapr, instance_name: todo-api-daprd}\n' "$(metrics_port 0)"
    for k in $(seq 1 "$REPLICAS"); do
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {app_id: notification-service, namespace: default, service: notification-service-dapr, instance_name: notification-%s-daprd}\n' "$(metrics_port "$k")" "$k"
    done
    printf '      - targets: ["127.0.0.1:%s"]\n        labels: {app_id: billing-service, namespace: billing, service: billing-service-dapr, instance_name: billing-1-daprd}\n' "$(metrics_port "$BILLING")"
  } > "$RUN_DIR/prometheus.yml"
  say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT (scrapes every app and sidecar every $SCRAPE_INTERVAL)"
  prometheus_pid=$(start_process prometheus "$LOG_DIR/prometheus.log" "$PROMETHEUS" \
    --config.file="$RUN_DIR/prometheus.yml" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --storage.tsdb.path="$RUN_DIR/prometheus" --storage.tsdb.retention.time=2d)
  record prometheus "$prometheus_pid" "http://127.0.0.1:$PROMETHEUS_PORT"
else
  METRICS_ENV=(METRICS=off)
  # No metrics server (--enable-metrics=false) and nothing recorded either (spec.metric.enabled, Dapr 1.18.3
  # pkg/runtime/config.go: the meter is made only when it is true, its default).
  cat > "$RUN_DIR/metrics-off.yaml" <<YAML
# Made by scripts/run.sh --no-metrics: the sidecars record no metrics. Merged over dapr/config.yaml.
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: metrics-off
spec:
  metric:
    enabled: false
YAML
  METRICS_FLAGS=(--enable-metrics=false --config "$RUN_DIR/metrics-off.yaml")
fi

wait_zipkin() {
  [ $TRACING -eq 1 ] || return 0
  wait_http zipkin "http://127.0.0.1:$ZIPKIN_PORT/health" 90 "$zipkin_pid" "$LOG_DIR/zipkin.log"
}

# 4. Security: the API tokens of this start, and Sentry, which every sidecar asks for its certificate at start (a
# sidecar that cannot reach it exits).
# Tokens: 32 random bytes each, new for every start, in 0600 files of a 0700 folder; they reach the processes through
# their environment (readable only by their user: /proc/<pid>/environ is 0400), never through a command line, a log
# or this script's output. <app>.dapr-api-token guards the app's sidecar API (Dapr's DAPR_API_TOKEN, which the app
# sends); <app>.app-api-token is what the sidecar sends to its app (Dapr's APP_API_TOKEN, which the app requires).
# The .header files hold the same tokens as curl headers: curl -H @.run/secrets/todo-api.dapr-api-token.header ...
mkdir -p "$SECRETS"
chmod 700 "$SECRETS"
rm -f "$SECRETS"/*-token "$SECRETS"/*-token.header
SECURITY_SUMMARY="insecure (--insecure): no mTLS, no access control, no API tokens"
if [ $SECURE -eq 1 ]; then
  for app in todo-api notification-service billing-service; do
    for kind in dapr-api-token app-api-token; do
      (umask 077
       head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \n' > "$SECRETS/$app.$kind"
       printf 'dapr-api-token: %s\n' "$(cat "$SECRETS/$app.$kind")" > "$SECRETS/$app.$kind.header")
    done
  done
  # Sentry's root and issuer (Ed25519, a year) stay in the run folder from one start to the next, as a cluster's
  # would. When they are missing, Sentry makes them, and then reloads itself about three times in six seconds (it
  # watches that folder, and sees its own writes); a sidecar that asks during a reload exits. So a first Sentry makes
  # them and stops, and the one that serves starts on files that no longer change.
  SENTRY_CREDENTIALS=$SECRETS/sentry
  mkdir -p "$SENTRY_CREDENTIALS"
  export SENTRY_WORKLOAD_CERT_TTL=${SENTRY_WORKLOAD_CERT_TTL:-24h} SENTRY_ALLOWED_CLOCK_SKEW=${SENTRY_ALLOWED_CLOCK_SKEW:-15m}
  sentry_command=("$SENTRY" --config "$ROOT/dapr/security/sentry.yaml" --issuer-credentials "$SENTRY_CREDENTIALS"
    --trust-domain localhost --listen-address 127.0.0.1 --port "$SENTRY_PORT"
    --healthz-port "$SENTRY_HEALTHZ_PORT" --metrics-port "$SENTRY_METRICS_PORT")
  if [ ! -s "$SENTRY_CREDENTIALS/ca.crt" ] || [ ! -s "$SENTRY_CREDENTIALS/issuer.crt" ] || [ ! -s "$SENTRY_CREDENTIALS/issuer.key" ]; then
    rm -f "$SENTRY_CREDENTIALS"/*
    say "Sentry makes the root and issuer certificates (first start of this run folder)"
    pid=$(start_process sentry-bootstrap "$LOG_DIR/sentry-bootstrap.log" "${sentry_command[@]}")
    for _ in $(seq 1 100); do
      [ -s "$SENTRY_CREDENTIALS/ca.crt" ] && [ -s "$SENTRY_CREDENTIALS/issuer.crt" ] && [ -s "$SENTRY_CREDENTIALS/issuer.key" ] && break
      sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    [ -s "$SENTRY_CREDENTIALS/ca.crt" ] || { tail -n 20 "$LOG_DIR/sentry-bootstrap.log" >&2; die "Sentry did not write its certificates"; }
  fi
  say "starting Sentry on 127.0.0.1:$SENTRY_PORT (workload certificates live $SENTRY_WORKLOAD_CERT_TTL)"
  pid=$(start_process sentry "$LOG_DIR/sentry.log" "${sentry_command[@]}")
  record sentry "$pid" "grpcs://127.0.0.1:$SENTRY_PORT"
  wait_http sentry "http://127.0.0.1:$SENTRY_HEALTHZ_PORT/healthz" 30 "$pid" "$LOG_DIR/sentry.log"
  SECURITY_SUMMARY="secure: Sentry mTLS between sidecars, access control on notification-service and billing-service, API tokens in $SECRETS"
fi

# The environment of a process of app $1 ("todo-api", "notification-service" or "billing-service") as $2 ("app" or
# "sidecar"), exported
# in the subshell that starts it.
export_security() {
  [ $SECURE -eq 1 ] || return 0
  export DAPR_API_TOKEN APP_API_TOKEN
  DAPR_API_TOKEN=$(cat "$SECRETS/$1.dapr-api-token")
  APP_API_TOKEN=$(cat "$SECRETS/$1.app-api-token")
  if [ "$2" = sidecar ]; then
    export DAPR_TRUST_ANCHORS
    DAPR_TRUST_ANCHORS=$(cat "$SENTRY_CREDENTIALS/ca.crt")
  fi
}

# -XX:TieredStopAtLevel=1 (C1 only): four JVMs and five Go processes share the machine, and C2's compiler threads
# compete with the event loops for the first minutes: cold, C2 failed 9-35% of 150 POST /tasks/s for two minutes.
# Warm (3 min), C2 saves about 0.2 ms of CPU per create in each JVM and the whole system the same 4.23 ms per create
# either way (docs/notes/issue-21.md). Set JAVA_OPTS to choose.
JAVA_OPTS=${JAVA_OPTS:--XX:+UseSerialGC -Xms32m -Xmx128m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1}
# Class-data archives (AppCDS) of both jars for these options, made by a training run the first time (a few seconds,
# then cached in ~/.cache/todo-dapr/cds): each JVM maps its classes from the archive instead of loading them from the
# jar (scripts/lib.sh class_data_archive). CLASS_DATA_ARCHIVE=off starts without them.
CDS_TODO=() CDS_NOTIFICATION=() CDS_BILLING=()
if [ "${CLASS_DATA_ARCHIVE:-on}" != off ]; then
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of words
  archive=$(class_data_archive "$TODO_JAR" $JAVA_OPTS)
  [ -z "$archive" ] || CDS_TODO=(-XX:SharedArchiveFile="$archive")
  # shellcheck disable=SC2086
  archive=$(class_data_archive "$NOTIFICATION_JAR" $JAVA_OPTS)
  [ -z "$archive" ] || CDS_NOTIFICATION=(-XX:SharedArchiveFile="$archive")
  # shellcheck disable=SC2086
  archive=$(class_data_archive "$BILLING_JAR" $JAVA_OPTS)
  [ -z "$archive" ] || CDS_BILLING=(-XX:SharedArchiveFile="$archive")
fi
API_LOGGING=()
[ "${DAPR_API_LOGGING:-on}" = off ] || API_LOGGING=(--enable-api-logging)
start_sidecar() { # k app_id name [namespace]
  local k=$1 app_id=$2 name=$3 namespace=${4:-default} security=() profiling=() resources=()
  # billing-service, in a namespace of its own, loads only its own components (dapr/billing: its ledger).
  if [ "$app_id" = billing-service ]; then
    resources=(--resources-path "$ROOT/dapr/billing")
  else
    resources=(--resources-path "$ROOT/dapr/components" --resources-path "$STATE_COMPONENTS")
  fi
  # Go's pprof on each sidecar (127.0.0.1, like its other listeners), for scripts/benchmark.sh cpu; off by default.
  [ "${DAPR_PROFILING:-off}" = on ] && profiling=(--enable-profiling --profile-port "$(( $(metrics_port "$k") + 5 ))")
  # mTLS with a certificate from Sentry, and the app's access control (a second --config, merged over the first).
  [ $SECURE -eq 1 ] && security=(--enable-mtls --sentry-address "127.0.0.1:$SENTRY_PORT"
    --config "$ROOT/dapr/security/$app_id.yaml")
  # Each sidecar runs in the run folder, where dapr/config.yaml's relative SQLite path puts the shared database.
  (cd "$RUN_DIR" && export_security "$app_id" sidecar && start_process "$name" "$LOG_DIR/$name.log" \
    env "${SIDECAR_ENV[@]}" NAMESPACE="$namespace" "$DAPRD" \
    --app-id "$app_id" --app-port "$(app_port "$k")" --app-protocol http \
    --dapr-http-port "$(http_port "$k")" --dapr-grpc-port "$(grpc_port "$k")" \
    --dapr-internal-grpc-port "$(internal_port "$k")" --metrics-port "$(metrics_port "$k")" \
    --dapr-listen-addresses 127.0.0.1 --dapr-internal-grpc-listen-address 127.0.0.1 \
    --metrics-listen-address 127.0.0.1 \
    "${resources[@]}" \
    --config "$ROOT/dapr/config.yaml" "${security[@]}" "${TRACING_CONFIG[@]}" "${METRICS_FLAGS[@]}" \
    "${API_LOGGING[@]}" "${profiling[@]}" --log-level "${DAPR_LOG_LEVEL:-info}")
}

# 5. notification-service replicas, each with its sidecar.
say "starting $REPLICAS notification-service replica(s) and their sidecars"
for k in $(seq 1 "$REPLICAS"); do
  # shellcheck disable=SC2086 # NOTIFICATION_ENV is a list of VAR=value words
  pid=$(export_security notification-service app && start_process "notification-$k" "$LOG_DIR/notification-$k.log" env APP_PORT="$(app_port "$k")" \
    DAPR_HTTP_PORT="$(http_port "$k")" REPLICA_ID="notification-$k" "${TRACING_ENV[@]}" "${METRICS_ENV[@]}" ${NOTIFICATION_ENV:-} \
    java $JAVA_OPTS "${CDS_NOTIFICATION[@]}" -jar "$NOTIFICATION_JAR")
  record "notification-$k" "$pid" "http://127.0.0.1:$(app_port "$k")"
done
wait_zipkin
for k in $(seq 1 "$REPLICAS"); do
  pid=$(awk -v n="notification-$k" '$1 == n {print $2}' "$PROCESSES")
  wait_http "notification-$k" "http://127.0.0.1:$(app_port "$k")/health" 60 "$pid" "$LOG_DIR/notification-$k.log"
  pid=$(start_sidecar "$k" notification-service "notification-$k-daprd")
  record "notification-$k-daprd" "$pid" "http://127.0.0.1:$(http_port "$k")"
done

# 5b. billing-service and its sidecar, in the namespace `billing`: its daprd's certificate then names
# spiffe://public/ns/billing/billing-service, which todo-api's daprd checks when it calls billing-service.billing.
say "starting billing-service and its sidecar (namespace billing)"
# shellcheck disable=SC2086 # BILLING_ENV is a list of VAR=value words
pid=$(export_security billing-service app && start_process billing-1 "$LOG_DIR/billing-1.log" env APP_PORT="$(app_port "$BILLING")" \
  DAPR_HTTP_PORT="$(http_port "$BILLING")" REPLICA_ID=billing-1 "${TRACING_ENV[@]}" "${METRICS_ENV[@]}" ${BILLING_ENV:-} \
  java $JAVA_OPTS "${CDS_BILLING[@]}" -jar "$BILLING_JAR")
record billing-1 "$pid" "http://127.0.0.1:$(app_port "$BILLING")"
wait_http billing-1 "http://127.0.0.1:$(app_port "$BILLING")/health" 60 "$pid" "$LOG_DIR/billing-1.log"
pid=$(start_sidecar "$BILLING" billing-service billing-1-daprd billing)
record billing-1-daprd "$pid" "http://127.0.0.1:$(http_port "$BILLING")"

# 6. todo-api and its sidecar.
say "starting todo-api and its sidecar"
# shellcheck disable=SC2086 # TODO_ENV is a list of VAR=value words
pid=$(export_security todo-api app && start_process todo-api "$LOG_DIR/todo-api.log" env APP_PORT="$(app_port 0)" DAPR_HTTP_PORT="$(http_port 0)" \
  BILLING_APP_ID=billing-service.billing "${TRACING_ENV[@]}" "${METRICS_ENV[@]}" ${TODO_ENV:-} \
  java $JAVA_OPTS "${CDS_TODO[@]}" -jar "$TODO_JAR")
record todo-api "$pid" "http://127.0.0.1:$(app_port 0)"
wait_http todo-api "http://127.0.0.1:$(app_port 0)/health/live" 60 "$pid" "$LOG_DIR/todo-api.log"
pid=$(start_sidecar 0 todo-api todo-api-daprd)
record todo-api-daprd "$pid" "http://127.0.0.1:$(http_port 0)"

# 7. Ready: every sidecar's /v1.0/healthz, then one invocation through todo-api's sidecar per replica's worth.
while read -r name pid url; do
  case "$name" in *-daprd) wait_http "$name" "$url/v1.0/healthz" 90 "$pid" "$LOG_DIR/$name.log" ;; esac
done < "$PROCESSES"
todo_pid=$(awk '$1 == "todo-api" {print $2}' "$PROCESSES")
wait_todo_ready "http://127.0.0.1:$(app_port 0)/health/ready" 60 "$todo_pid" "$LOG_DIR/todo-api.log"
token_header=""
[ $SECURE -eq 1 ] && token_header=$SECRETS/todo-api.dapr-api-token.header
wait_http "service invocation todo-api -> notification-service" \
  "http://127.0.0.1:$(http_port 0)/v1.0/invoke/notification-service/method/health" 60 "$todo_pid" \
  "$LOG_DIR/todo-api-daprd.log" "$token_header"
wait_http "service invocation todo-api -> billing-service.billing" \
  "http://127.0.0.1:$(http_port 0)/v1.0/invoke/billing-service.billing/method/health" 60 "$todo_pid" \
  "$LOG_DIR/todo-api-daprd.log" "$token_header"
READY=1

if [ "$OUTBOX_MISSING" -eq 1 ]; then
  say "running, NOT ready: state store '$STORE' has no outbox; POST /tasks answers 503 STATE_STORE_WITHOUT_OUTBOX"
else
  say "ready: state store '$STORE', $REPLICAS notification-service replica(s), billing-service in namespace billing; $SECURITY_SUMMARY"
fi
status >&2 || true
cat >&2 <<MSG

  Try it:   curl -s -X POST http://127.0.0.1:$(app_port 0)/tasks -H 'Content-Type: application/json' -d '{"title": "Buy groceries"}'
  Logs:     $LOG_DIR  (one file per process; the sidecars log every API call)
  Traces:   $( [ $TRACING -eq 1 ] && echo "http://127.0.0.1:$ZIPKIN_PORT/zipkin/ (Zipkin: every call, through both sidecars)" || echo "off (--no-tracing)")
$( [ $METRICS -eq 1 ] && cat <<METRICS_ON || echo "  Metrics:  off (--no-metrics)"
  Metrics:  http://127.0.0.1:$(app_port 0)/metrics and each replica's /metrics; Prometheus scrapes them all:
            http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query?query=sum(rate(vertx_http_server_requests_total[1m]))
  Live:     scripts/live.py (calls/s, p99, breakers, pending notifications, per replica)
METRICS_ON
)
  Stop:     $( [ $DETACH -eq 1 ] && echo "scripts/run.sh stop" || echo "Ctrl-C" )
MSG

if [ $DETACH -eq 1 ]; then
  exit 0
fi
# Stop everything even when the terminal or a pipe (scripts/run.sh | tee) is gone: no SIGPIPE, no exit on a failed echo.
trap 'trap "" PIPE; set +e; echo >&2; stop_all; exit 0' INT TERM HUP
# Watch the processes; say so when one dies, and keep the rest running.
declare -A reported=()
while true; do
  while read -r name pid _; do
    if ! alive "$pid" && [ -z "${reported[$name]:-}" ]; then
      reported[$name]=1
      say "WARNING: $name (pid $pid) exited; the end of its log:"
      tail -n 10 "$LOG_DIR/$name.log" >&2 || true
    fi
  done < "$PROCESSES"
  sleep 2 & wait $!
done
