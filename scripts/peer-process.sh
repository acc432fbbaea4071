# The functions both benchmarks that run a process in todo-api's place share (scripts/benchmark-peers.sh,
# scripts/benchmark-databind.sh). The caller defines start_peer NAME (starts it in the background and sets PEER_PID),
# URL (where it answers), OUT (its log is $OUT/peer-NAME.log) and K6.

# Stops the peer: SIGTERM, then SIGKILL after 15 s.
stop_peer() {
  kill "$PEER_PID" 2>/dev/null || true
  local waited=0
  while kill -0 "$PEER_PID" 2>/dev/null; do
    sleep 0.1; waited=$((waited + 1))
    [ "$waited" -lt 150 ] || { kill -9 "$PEER_PID" 2>/dev/null || true; }
  done
  PEER_PID=""
}
# k6run SCRIPT SUMMARY_JSON VAR=value ...: one k6 run; its first lines to stderr.
k6run() {
  local script=$1 summary=$2
  shift 2
  env "$@" SUMMARY_JSON="$summary" "$K6" run -q "$script" > "${summary%.json}.txt" 2>&1 || true
  sed -n '1,3p' "${summary%.json}.txt" | sed 's/^/    /' >&2
}
# first_answer NAME: starts it (not in a subshell: PEER_PID must stay set) and sets FIRST_MS, the ms from the
# process's start to its first answered (2xx) POST /tasks; 60 s at most.
first_answer() {
  local name=$1 t0 code
  t0=$(date +%s%N)
  start_peer "$name"
  while true; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST "$URL/tasks" \
      -H 'Content-Type: application/json' -d '{"title": "first"}' || true)
    case "$code" in 2??) break ;; esac
    kill -0 "$PEER_PID" 2>/dev/null || { tail -n 20 "$OUT/peer-$name.log" >&2; die "$name exited while starting"; }
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 60000 ] || die "$name did not answer POST /tasks within 60 s"
    sleep 0.005
  done
  FIRST_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
