#!/usr/bin/env bash
# Runs the test command where users run it: on a busy machine, and beside the system of the README's first command.
#   scripts/busy-machine.sh hog [N]   layer 1, N times in a row (default 5), while stress-ng keeps every core busy
#   scripts/busy-machine.sh beside    layers 1 and 3 while scripts/run.sh runs (started here, or the user's own)
# Each run's result and time go to stdout and to load/results/busy-machine/<mode>.txt; the logs beside it. Exits
# non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=busy-machine
. scripts/lib.sh

mode=${1:-}
OUT=$PWD/load/results/busy-machine
mkdir -p "$OUT"
report=$OUT/$mode.txt

# test_run NAME LAYERS: runs those layers of scripts/test.sh, logs to $OUT/NAME.log, records "NAME ok|FAILED seconds".
failures=0
test_run() {
  local t rc=0
  t=$(date +%s)
  LAYERS=$2 PREBUILD=off scripts/test.sh > "$OUT/$1.log" 2>&1 || rc=$?
  local line
  line="$1 layers $2: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $(( $(date +%s) - t )) s$3"
  say "$line"
  echo "$line" >> "$report"
  if [ $rc -ne 0 ]; then
    failures=$((failures + 1))
    grep -E 'Tests run:.*(Failures: [1-9]|Errors: [1-9])|FAIL|\[test\] .*(die|taken)' "$OUT/$1.log" | head -n 20 >&2 || true
  fi
}

case "$mode" in
  hog)
    runs=${2:-5}
    command -v stress-ng >/dev/null || apt_install stress-ng
    echo "# $(date -u +%FT%TZ) layer 1 x $runs under stress-ng --cpu $(nproc) ($(nproc) cores)" > "$report"
    stress-ng --cpu "$(nproc)" --timeout 0 > "$OUT/stress-ng.log" 2>&1 &
    hog=$!
    trap 'kill "$hog" 2>/dev/null || true' EXIT
    for i in $(seq 1 "$runs"); do
      test_run "hog-$i" 1 " (load average $(cut -d' ' -f1 /proc/loadavg))"
    done
    ;;
  beside)
    echo "# $(date -u +%FT%TZ) layers 1 and 3 beside scripts/run.sh" > "$report"
    user_system=$(plan_port app 0 0)
    if port_in_use "$user_system"; then
      say "a system already listens on $user_system (the user's own scripts/run.sh?): the tests run beside it"
      echo "# beside the system already running on the default ports" >> "$report"
      started_here=""
    else
      RUN_DIR=$OUT/run scripts/run.sh --detach > "$OUT/run.log" 2>&1 \
        || { tail -n 30 "$OUT/run.log" >&2; die "scripts/run.sh did not start"; }
      started_here=yes
      trap 'RUN_DIR=$OUT/run scripts/run.sh stop > /dev/null 2>&1 || true' EXIT
      say "started scripts/run.sh (default ports) in $OUT/run"
    fi
    test_run beside 1,3 ""
    # The user's system must have come through it as it was: still answering, each create stored and announced.
    answer=$(curl -s --max-time 10 -X POST "http://127.0.0.1:$user_system/tasks" -H 'Content-Type: application/json' \
      -d '{"title": "after the tests"}' || true)
    if echo "$answer" | grep -q '"status":"pending"'; then
      line="the system beside the tests still answers: $answer"
    else
      line="the system beside the tests does not answer a create as before: ${answer:-no answer}"
      failures=$((failures + 1))
    fi
    say "$line"
    echo "$line" >> "$report"
    [ -z "$started_here" ] || RUN_DIR=$OUT/run scripts/run.sh stop > /dev/null 2>&1 || true
    ;;
  *)
    die "usage: scripts/busy-machine.sh hog [N] | beside"
    ;;
esac
say "$report:"
sed 's/^/    /' "$report" >&2
[ "$failures" -eq 0 ] || die "$failures run(s) failed (logs in $OUT)"
