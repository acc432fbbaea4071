#!/usr/bin/env bash
# The test command of the README. Layered, fastest first; each layer runs only when the ones before it passed.
#   1. verticle unit tests and the fat jars (mvn verify)                                   seconds
#   2. manifests/: rendered, validated against the Kubernetes and Dapr schemas, rules        seconds
#   3. end to end against real daprd sidecars, with the fault suite (mvn -Pe2e)           about 8 minutes
#   4. the k6 load scripts, smoke-sized, against a real system                             seconds
#   5. the images: built (scripts/build-images.sh) and run with daprd containers          minutes (first time: more)
#   6. the system on a one-node Kubernetes cluster built here (scripts/cluster.sh)           about 6 minutes (first: +12)
# daprd, k6, kustomize, Kubernetes, etcd, CoreDNS, Helm and Dapr's control plane are built from the Go module proxy the
# first time and cached (~/.cache/todo-dapr); all but kustomize in the background from the start, niced, while the
# first layers run (PREBUILD=off: each only when its layer needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=test
. scripts/lib.sh

require_java_and_maven
command -v curl >/dev/null || apt_install curl
started=$(date +%s)
# LAYERS=1,3 runs those layers only (each one still needs what it needs, e.g. layer 3 builds the jars it runs); the
# ones left out are named as not run. CI runs every layer.
export LAYERS=${LAYERS:-1,2,3,4,5,6}
[ -z "${CI:-}" ] || [ "$LAYERS" = 1,2,3,4,5,6 ] || die "CI runs every layer: unset LAYERS (it is '$LAYERS')"
# layer N TITLE: announces layer N and succeeds if it is to run, else says it is not run and fails.
layer() {
  if [[ ",$LAYERS," == *",$1,"* ]]; then
    say "=== layer $1: $2 ($(( $(date +%s) - started )) s so far)"
  else
    say "--- layer $1 NOT RUN (LAYERS=$LAYERS): $2"
    return 1
  fi
}

# On exit: the cleanup of the layer under way (layer_cleanup), and the background builds if they still run.
layer_cleanup=""
prebuild_pid=""
on_exit() {
  [ -z "$layer_cleanup" ] || "$layer_cleanup"
  [ -z "$prebuild_pid" ] || kill -TERM -- "-$prebuild_pid" 2>/dev/null || true
}
trap on_exit EXIT

# Layers 3 and 4 start systems on the fixed ports of scripts/test-systems.txt: a second test command on this machine
# (another checkout) would start the same systems on the same ports. So one waits for the other, from before the check
# of the ports below to the end of layer 4, on one lock.
TEST_LOCK=${TEST_LOCK:-/tmp/todo-e2e.lock}
test_lock=""
if [[ ",$LAYERS," == *,3,* || ",$LAYERS," == *,4,* ]]; then
  exec {test_lock}>"$TEST_LOCK"
  if ! flock -n "$test_lock"; then
    t=$(date +%s)
    say "waiting for another test command on this machine to finish its systems (lock $TEST_LOCK, held by pid(s) $(fuser "$TEST_LOCK" 2>/dev/null | xargs))"
    flock "$test_lock"
    say "waited $(( $(date +%s) - t )) s for $TEST_LOCK"
  fi
fi

# without_test_lock COMMAND...: runs COMMAND without the lock's descriptor, so that what outlives layer 4 cannot hold it.
# Call it in a subshell of its own: ( without_test_lock ... ) &
without_test_lock() { [ -z "$test_lock" ] || exec {test_lock}>&-; exec "$@"; }

# Before anything starts: every port of the systems this command starts (scripts/test-systems.txt; a user's own
# scripts/run.sh, up to --replicas 10, never shares one of them) must be free. Systems an interrupted earlier run left
# in this command's own run folders are stopped first.
for run_dir in e2e-tests/target/e2e/*/ load/results/smoke/run/ load/results/smoke/peers/run/; do
  [ -f "$run_dir/processes" ] || continue
  name=$(basename "$run_dir")
  case "$run_dir" in load/results/smoke/run/) name=smoke ;; load/results/smoke/peers/run/) name=peers ;; esac
  offset=$(test_systems | awk -v n="$name" '$1 == n {print $2}')
  say "stopping what an earlier run left running in $run_dir"
  RUN_DIR=$run_dir PORT_OFFSET=${offset:-0} scripts/run.sh stop >/dev/null 2>&1 || true
done
# The layer that starts each row's system: the e2e classes' in 3, the k6 smoke's in 4, the cluster in 6; a user's own
# system, the soak and the benchmark are started by no layer (they are planned around, not checked).
row_layer() { case "$1" in default | soak | benchmark | hog | databind) echo - ;; smoke | peers) echo 4 ;; cluster) echo 6 ;; *) echo 3 ;; esac; }
taken=()
while read -r name _; do
  [[ ",$LAYERS," == *",$(row_layer "$name"),"* ]] || continue
  while read -r port what; do
    if port_in_use "$port"; then
      holder=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n 1 \
        | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1, pid \2/')
      taken+=("port $port ($name: $what) is taken${holder:+ by $holder}")
    fi
  done < <(test_system_ports "$name")
done < <(test_systems)
if [ ${#taken[@]} -gt 0 ]; then
  for line in "${taken[@]}"; do say "  $line"; done
  die "${#taken[@]} port(s) the test command needs are taken (above; the plan: scripts/test-systems.txt): stop what holds them and run it again"
fi
say "the ports of every system this command starts are free (scripts/test-systems.txt)"

# The Go tools of the later layers (daprd, Sentry, Prometheus, k6, and as root the cluster's), built from the module
# proxy the first time only: in the background from now on, in the order the layers need them, and niced, so that the
# tests keep the CPU they want and the builds take what is left; each layer's own call finds the build cached, or
# waits (scripts/lib.sh build_go_tool's lock) for the one under way, and never builds it twice.
prebuild_log=$PWD/e2e-tests/target/prebuild.log
mkdir -p "$(dirname "$prebuild_log")"
if [ "${PREBUILD:-on}" != off ]; then
  (LAYERS=$LAYERS without_test_lock setsid nice -n 19 bash -c '
    set -e
    wants() { [[ ",$LAYERS," == *",$1,"* ]]; }
    if wants 3 || wants 4 || wants 6; then
      scripts/setup-daprd.sh; scripts/setup-daprd.sh sentry; scripts/setup-go-tool.sh prometheus
    fi
    if wants 4; then scripts/setup-go-tool.sh k6; fi
    if wants 6 && [ "$(id -u)" -eq 0 ]; then
      scripts/setup-kubernetes.sh
      for name in operator injector placement scheduler; do scripts/setup-daprd.sh "$name"; done
    fi' > "$prebuild_log" 2>&1 < /dev/null) &
  prebuild_pid=$!
  say "the Go tools of layers 3 to 6 build in the background where missing (log: $prebuild_log)"
fi

if layer 1 "README and docs (scripts/check-docs.py), verticle unit tests and fat jars (mvn -B verify)"; then
  command -v python3 >/dev/null || apt_install python3
  python3 scripts/check-docs.py
  mvn -B -ntp verify
fi

if layer 2 "manifests/ (kustomize, Kubernetes schemas strict, Dapr CRD schemas, rules)"; then
  scripts/validate-manifests.sh
fi

if layer 3 "end to end against real Dapr sidecars"; then
  command -v redis-server >/dev/null || apt_install redis-server redis-tools
  command -v tcpdump >/dev/null || apt_install tcpdump # SecurityE2E captures the sidecars' traffic on loopback
  # Every tool scripts/run.sh uses, built (or waited for, if the background build is at it) before the first system
  # starts: a build inside an e2e class's run.sh counts against its start limit (seen on a fresh machine: run.sh
  # building Prometheus for 300 s in ObservabilityE2E).
  scripts/setup-daprd.sh >/dev/null
  scripts/setup-daprd.sh sentry >/dev/null
  scripts/setup-go-tool.sh prometheus >/dev/null
  scripts/setup-zipkin.sh >/dev/null
  # Unit tests already ran in layer 1: -Dtest=none skips them here, failsafe runs the *E2E classes. The fault suite's
  # outage of every replica lasts E2E_OUTAGE_SECONDS (20 here; 60 is the full case, about 2 minutes longer).
  rm -f e2e-tests/target/e2e/faults.txt
  mvn -B -ntp -Pe2e verify -pl e2e-tests -am -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -De2e.outage.seconds="${E2E_OUTAGE_SECONDS:-20}"
  for report in e2e-tests/target/e2e/replica-spread.txt e2e-tests/target/e2e/faults.txt; do
    [ -f "$report" ] && { say "$report:"; sed 's/^/    /' "$report" >&2; }
  done
fi

if layer 4 "k6 load scripts, smoke-sized"; then
  # k6 would send usage statistics to stats.grafana.org after each run: the tests send nothing off this machine.
  export K6_NO_USAGE_REPORT=true
  K6=$(scripts/setup-go-tool.sh k6 | tail -n 1)
  SMOKE_DIR=$PWD/load/results/smoke
  rm -rf "$SMOKE_DIR" && mkdir -p "$SMOKE_DIR"
  SMOKE_OFFSET=$(test_system_offset smoke)
  SMOKE_TODO=http://127.0.0.1:$(plan_port app 0 "$SMOKE_OFFSET")
  SMOKE_PROMETHEUS=http://127.0.0.1:$(plan_port prometheus 0 "$SMOKE_OFFSET")
  stop_smoke() { RUN_DIR=$SMOKE_DIR/run PORT_OFFSET=$SMOKE_OFFSET scripts/run.sh stop >/dev/null 2>&1 || true; }
  layer_cleanup=stop_smoke
  RUN_DIR=$SMOKE_DIR/run PORT_OFFSET=$SMOKE_OFFSET scripts/run.sh --detach > "$SMOKE_DIR/run.log" 2>&1 \
    || { tail -n 30 "$SMOKE_DIR/run.log" >&2; die "the system did not start"; }
  # The scripts' latency bounds (P99_MS, 250 ms by default) are the benchmark's: here each runs with a bound no answer
  # reaches (SMOKE_P99_MS), so that a busy machine cannot fail the smoke, while every other threshold of theirs holds.
  # First a few seconds of warm-up, which the Prometheus count below leaves out.
  SMOKE_P99_MS=100000
  TODO_URL=$SMOKE_TODO RATE=20 DURATION=3s P99_MS=$SMOKE_P99_MS SUMMARY_JSON=$SMOKE_DIR/warmup.json \
    "$K6" run -q load/create-tasks.js > "$SMOKE_DIR/warmup.txt" 2>&1 || { cat "$SMOKE_DIR/warmup.txt"; die "the warm-up failed"; }
  # Both JVMs started on their class-data archives (run.sh: scripts/lib.sh class_data_archive, a training run once).
  for app in todo-api notification-1; do
    pid=$(awk -v n="$app" '$1 == n {print $2}' "$SMOKE_DIR/run/processes")
    archive=$(tr '\0' '\n' < "/proc/$pid/cmdline" | sed -n 's/^-XX:SharedArchiveFile=//p')
    [ -n "$archive" ] && [ -s "$archive" ] || die "$app was started without its class-data archive (see $SMOKE_DIR/run.log)"
  done
  say "todo-api and the replicas run on their class-data archives"
  # Prometheus (started by run.sh, scraping every 2 s) must count exactly the POST /tasks that k6 sends: todo-api's
  # vertx_http_server_requests_total, read before and after the run.
  prometheus_posts() {
    curl -s --max-time 5 "$SMOKE_PROMETHEUS/api/v1/query" --data-urlencode \
      'query=sum(vertx_http_server_requests_total{job="todo-api",route="/tasks",method="POST"})' \
      | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
  }
  # Waits (60 s at most: Prometheus scrapes every 2 s) until Prometheus counts $1 POST /tasks; prints what it counts.
  prometheus_counts() {
    local count
    for _ in $(seq 1 120); do
      count=$(prometheus_posts)
      [ "$count" -eq "$1" ] && break
      sleep 0.5
    done
    echo "$count"
  }
  k6_sent() { python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["metrics"]["http_reqs"]["values"]["count"]))' "$1"; }
  # The warm-up's requests, all scraped: the count the smoke's are added to.
  posts_before=$(prometheus_counts "$(k6_sent "$SMOKE_DIR/warmup.json")")
  TODO_URL=$SMOKE_TODO RATE=20 DURATION=5s P99_MS=$SMOKE_P99_MS SUMMARY_JSON=$SMOKE_DIR/create.json \
    "$K6" run -q load/create-tasks.js
  sent=$(k6_sent "$SMOKE_DIR/create.json")
  counted=$(( $(prometheus_counts $((posts_before + sent))) - posts_before ))
  [ "$counted" -eq "$sent" ] || die "Prometheus counted $counted POST /tasks of todo-api, k6 sent $sent"
  say "Prometheus counted the $sent POST /tasks that k6 sent (vertx_http_server_requests_total of todo-api)"
  # Dapr's own Grafana sidecar dashboard (in the module github.com/dapr/dapr@v1.18.3, grafana/), its variables and every
  # panel's query, against this Prometheus: what a team importing it would see (no Grafana is built here; docs/observability.md).
  dapr_dir=$(cd /tmp && GOFLAGS='' go mod download -json github.com/dapr/dapr@v1.18.3 \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  python3 scripts/check-dapr-dashboards.py --prometheus "$SMOKE_PROMETHEUS" \
    --dashboard "$dapr_dir/grafana/grafana-sidecar-dashboard.json" --out "$SMOKE_DIR/dapr-dashboard.txt" > /dev/null \
    || die "Dapr's sidecar dashboard does not see this system (its panels: $SMOKE_DIR/dapr-dashboard.txt)"
  say "Dapr's Grafana sidecar dashboard: $(tail -n 1 "$SMOKE_DIR/dapr-dashboard.txt") ($SMOKE_DIR/dapr-dashboard.txt)"
  # The floor calls todo-api's sidecar itself, so it needs the sidecar's API token (in the environment, not on a command line).
  DAPR_API_TOKEN=$(cat "$SMOKE_DIR/run/secrets/todo-api.dapr-api-token") DAPR_URL=http://127.0.0.1:$(plan_port http 0 "$SMOKE_OFFSET") RATE=20 DURATION=3s \
    P99_MS=$SMOKE_P99_MS SUMMARY_JSON=$SMOKE_DIR/floor.json "$K6" run -q load/floor.js
  # The search ends when a plateau fails its thresholds (exit 99); here both plateaus are low and must hold.
  TODO_URL=$SMOKE_TODO RATES=10,20 STEP=2s P99_MS=$SMOKE_P99_MS SUMMARY_JSON=$SMOKE_DIR/max-rate.json \
    "$K6" run -q load/max-rate.js
  grep -q '"best": 20' "$SMOKE_DIR/max-rate.json" || die "max-rate.js did not find that 20/s holds"
  # Creates and completions: this system runs billing-service (run.sh), so every completion must be answered 200 and
  # charged at once, counted from the answers: completions == charges == iterations.
  TODO_URL=$SMOKE_TODO RATE=20 DURATION=3s P99_MS=$SMOKE_P99_MS SUMMARY_JSON=$SMOKE_DIR/create-complete.json \
    "$K6" run -q load/create-complete.js
  read -r iterations completions charges < <(python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["metrics"]
print(*(int(m[n]["values"]["count"]) if n in m else 0 for n in ("iterations", "completions", "charges")))' \
    "$SMOKE_DIR/create-complete.json")
  [ "$iterations" -gt 0 ] && [ "$completions" -eq "$iterations" ] && [ "$charges" -eq "$iterations" ] \
    || die "create-complete.js: $iterations iterations, $completions completions answered 200, $charges charged at once: each completion must be charged at once"
  say "create-complete.js: $iterations tasks created and completed, each charged at once"
  stop_smoke
  layer_cleanup=""
  # The benchmark's peers (scripts/benchmark.sh peers): todo-api, the seed's FastAPI service and Spring Boot + Dapr SDK
  # (our JVM flags and the JVM's defaults), each built and run in todo-api's place behind the same daprd for seconds, so
  # that none of them can rot: every create answered with the pending task, one notification counted at the replicas
  # for each, the rate search run (scripts/peers_report.py --check).
  PORT_OFFSET=$(test_system_offset peers) SMOKE=1 BENCH_OUT=$SMOKE_DIR/peers scripts/benchmark.sh peers || die "the peers' smoke failed (see $SMOKE_DIR/peers)"
fi

[ -z "$test_lock" ] || exec {test_lock}>&-

if layer 5 "images built and run with daprd containers (Testcontainers)"; then
  if scripts/build-images.sh; then
    mvn -B -ntp -Pcontainers verify -pl container-tests -am -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false
  else
    # Not silent: without a Docker engine the images cannot be built or run here. CI starts one, so there this fails.
    say "!!! layer 5 NOT RUN: scripts/build-images.sh failed (no Docker engine could be started?) !!!"
    [ -z "${CI:-}" ] || die "CI must run the container layer"
  fi
fi

if layer 6 "the system on a one-node Kubernetes cluster built here, deployed as a user deploys it (mvn -Pcluster)"; then
  # scripts/cluster.sh: Kubernetes v1.34.4, etcd, CoreDNS and Helm built from the Go module proxy (first time: about
  # 12 minutes on 2 cores, then cached), Dapr 1.18.3 from its Helm chart, a bridge of its own; it needs root.
  if [ "$(id -u)" -eq 0 ]; then
    t=$(date +%s)
    scripts/setup-kubernetes.sh >/dev/null
    for name in operator injector placement scheduler; do scripts/setup-daprd.sh "$name" >/dev/null; done
    say "cluster builds ready in $(( $(date +%s) - t )) s"
    # ClusterK8s takes its cluster down itself; this is for a run that is cut short.
    cluster_down() { scripts/cluster.sh down >/dev/null 2>&1 || true; }
    layer_cleanup=cluster_down
    mvn -B -ntp -Pcluster verify -pl e2e-tests -am -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false
    layer_cleanup=""
    report=e2e-tests/target/cluster/report.txt
    [ -f "$report" ] && { say "$report:"; sed 's/^/    /' "$report" >&2; }
  else
    say "!!! layer 6 NOT RUN: the cluster's node (containerd, the kubelet, a bridge, iptables) needs root !!!"
    [ -z "${CI:-}" ] || die "CI must run the cluster layer"
  fi
fi

say "layers $LAYERS passed in $(( $(date +%s) - started )) s"
