#!/usr/bin/env bash
# A CPU hog on every core for a few seconds under steady load (scripts/benchmark.sh hog runs this): the embedded
# default (scripts/run.sh --detach: in-memory store, 3 replicas, secure, traced) at RATE creates a second from
# loopback; BEFORE seconds in, `stress-ng --cpu <cores> --timeout HOG` starves every process of the system; the traffic
# goes on AFTER seconds more. Per trial (scripts/hog_traffic.py): how many creates were refused (503), when the last
# refusal came relative to the end of the hog, the breakers' openings and the failures they counted (todo-api's
# /metrics), and that nothing accepted was lost: every 201 task read back, every accepted notification received by a
# replica exactly once (by its id in the replicas' logs), once the outbox has drained.
# With BASELINE_REF, the same trials first against that commit (built in a worktree under the results folder, started
# by its own scripts/run.sh): before and after, in one run. Raw results go to load/results/hog-<time>/; the figures to
# the cpu-hog section of docs/BENCHMARKS.md (WRITE_DOCS=0: only printed).
#
#   scripts/benchmark.sh hog        RATE=20 BEFORE=10 HOG=5 AFTER=15 TRIALS=3 WARMUP=15 PORT_OFFSET=1605
#   BASELINE_REF=cb254ac scripts/benchmark.sh hog
#   LABEL=reset-1s TODO_ENV="BREAKER_RESET_MS=1000" WRITE_DOCS=0 scripts/benchmark.sh hog   (a setting tried; the label
#   names the trials, TODO_ENV goes to todo-api through scripts/run.sh)
# The hog slows everything on the machine: run it alone (`flock /tmp/todo-e2e.lock ...` where several share it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=benchmark-hog
. "$ROOT/scripts/lib.sh"
cd "$ROOT"

RATE=${RATE:-20}
BEFORE=${BEFORE:-10}
HOG=${HOG:-5}
AFTER=${AFTER:-15}
TRIALS=${TRIALS:-3}
HOG_WORKERS=${HOG_WORKERS:-$(nproc)} # stress-ng --cpu workers: one per core, or more for a harder starvation
WARMUP=${WARMUP:-15}
OFFSET=${PORT_OFFSET:-1605}
BASELINE_REF=${BASELINE_REF:-}
OUT=${BENCH_OUT:-$ROOT/load/results/hog-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
say "results go to $OUT"

require_java_and_maven
apt_install stress-ng python3 redis-tools
(mvn -B -q -ntp package -DskipTests) || die "the Maven build failed"
BASELINE=""
RUNNING=()
cleanup() {
  local entry
  for entry in "${RUNNING[@]}"; do
    RUN_DIR=${entry#*:} PORT_OFFSET=$OFFSET "${entry%%:*}/scripts/run.sh" stop > /dev/null 2>&1 || true
  done
  [ -z "$BASELINE" ] || git -C "$ROOT" worktree remove --force "$BASELINE" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -n "$BASELINE_REF" ]; then
  BASELINE=$OUT/baseline-src
  say "building the baseline $BASELINE_REF ($(git log -1 --format=%s "$BASELINE_REF" | cut -c1-70)) in $BASELINE"
  git worktree add -f --detach "$BASELINE" "$BASELINE_REF" > /dev/null 2>&1 || die "git worktree add $BASELINE_REF failed"
  (cd "$BASELINE" && mvn -B -q -ntp package -DskipTests) || die "the baseline's Maven build failed"
fi

todo=http://127.0.0.1:$((8000 + OFFSET))
redis_port=$((6390 + OFFSET))
variant() { # name source-tree
  local name=$1 src=$2 run_dir=$OUT/run-$1 i
  say "=== $name: starting the embedded default ($src, ports +$OFFSET)"
  RUNNING+=("$src:$run_dir")
  RUN_DIR=$run_dir PORT_OFFSET=$OFFSET "$src/scripts/run.sh" --detach > "$OUT/run-$name.log" 2>&1 \
    || { tail -n 30 "$OUT/run-$name.log" >&2; die "$name did not start"; }
  say "$name: warm-up, $WARMUP s at $RATE/s"
  python3 scripts/hog_traffic.py traffic "$OUT/$name-warmup.json" --url "$todo" --label "$name-warmup" \
    --rate "$RATE" --before "$WARMUP" --hog 0 --after 0
  for i in $(seq 1 "$TRIALS"); do
    outbox_drain "$redis_port" 120 > /dev/null || say "the outbox did not drain within 120 s before trial $i"
    say "$name trial $i: $((BEFORE + HOG + AFTER)) s at $RATE/s, the hog from $BEFORE s for $HOG s"
    python3 scripts/hog_traffic.py traffic "$OUT/$name-$i.json" --url "$todo" --label "$name-$i" --rate "$RATE" \
      --before "$BEFORE" --hog "$HOG" --after "$AFTER" --workers "$HOG_WORKERS"
    outbox_drain "$redis_port" 180 > /dev/null || say "the outbox did not drain within 180 s after trial $i"
    python3 scripts/hog_traffic.py check "$OUT/$name-$i.json" --url "$todo" --label "$name-$i" \
      --logs "$run_dir/logs" | tee -a "$OUT/summary.txt" || true
  done
  RUN_DIR=$run_dir PORT_OFFSET=$OFFSET "$src/scripts/run.sh" stop > /dev/null 2>&1
  RUNNING=()
}

[ -z "$BASELINE" ] || variant before "$BASELINE"
variant "${LABEL:-$( [ -n "$BASELINE" ] && echo after || echo this)}" "$ROOT"

cat > "$OUT/settings.env" <<SETTINGS
RATE=$RATE
BEFORE=$BEFORE
HOG=$HOG
AFTER=$AFTER
TRIALS=$TRIALS
HOG_WORKERS=$HOG_WORKERS
TODO_ENV="${TODO_ENV:-}"
BASELINE_REF="$BASELINE_REF"
BASELINE_SUBJECT="$( [ -n "$BASELINE_REF" ] && git log -1 --format=%s "$BASELINE_REF" | cut -c1-100 | tr -d '"')"
HEAD="$(git log -1 --format='%h %s' | cut -c1-100 | tr -d '"')"
STRESS_NG="$(stress-ng --version | head -n 1)"
SETTINGS
if [ "${WRITE_DOCS:-1}" = 1 ]; then
  python3 scripts/hog_traffic.py report "$OUT" --docs docs/BENCHMARKS.md
  say "wrote the cpu-hog section of docs/BENCHMARKS.md from $OUT"
else
  python3 scripts/hog_traffic.py report "$OUT"
fi
