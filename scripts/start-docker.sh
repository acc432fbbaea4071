#!/usr/bin/env bash
# Makes sure a Docker engine answers: does nothing when `docker info` works; else installs Debian's docker.io if
# dockerd is missing and starts dockerd in the background (overlay2 storage, log in /var/log/dockerd-todo-dapr.log).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=start-docker
. "$ROOT/scripts/lib.sh"

if docker info >/dev/null 2>&1; then
  exit 0
fi
command -v dockerd >/dev/null || apt_install docker.io
command -v docker >/dev/null || apt_install docker.io
[ "$(id -u)" -eq 0 ] || die "starting dockerd needs root; start the Docker engine yourself and re-run"
LOG=/var/log/dockerd-todo-dapr.log
say "starting dockerd (log: $LOG)"
nohup dockerd --storage-driver=overlay2 > "$LOG" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { say "Docker engine ready"; exit 0; }
  sleep 1
done
tail -n 20 "$LOG" >&2
die "dockerd did not answer within 60 s (the end of its log is above)"
