#!/usr/bin/env bash
# Makes sure a Docker engine answers, idempotently:
#   - `docker info` works: nothing to do;
#   - else: installs Debian's docker.io when dockerd is missing, starts dockerd in the background (overlay2 storage
#     driver, log in $DOCKERD_LOG) and waits until `docker info` answers ($DOCKERD_TIMEOUT seconds at most), printing
#     the end of the log when it does not.
# Builds here use the legacy builder (DOCKER_BUILDKIT=0): Debian's docker.io comes without buildx.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=start-docker
. "$ROOT/scripts/lib.sh"

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd-todo-dapr.log}
DOCKERD_TIMEOUT=${DOCKERD_TIMEOUT:-60}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  say "Docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi
command -v dockerd >/dev/null || apt_install docker.io
command -v docker >/dev/null || apt_install docker.io

if pgrep -x dockerd >/dev/null; then
  # Started by someone else and not answering yet: wait for it rather than start a second one.
  say "dockerd is running (pid $(pgrep -x dockerd | head -n 1)) but does not answer yet; waiting"
else
  [ "$(id -u)" -eq 0 ] || die "starting dockerd needs root; start the Docker engine yourself (or with sudo) and re-run"
  say "starting dockerd --storage-driver=overlay2 (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  nohup dockerd --storage-driver=overlay2 >> "$DOCKERD_LOG" 2>&1 < /dev/null &
fi
for _ in $(seq 1 "$DOCKERD_TIMEOUT"); do
  if docker info >/dev/null 2>&1; then
    say "Docker engine ready ($(docker version -f '{{.Server.Version}}'), storage driver $(docker info -f '{{.Driver}}'))"
    exit 0
  fi
  pgrep -x dockerd >/dev/null || break
  sleep 1
done
say "the end of $DOCKERD_LOG:"
tail -n 25 "$DOCKERD_LOG" >&2 || true
pgrep -x dockerd >/dev/null && die "dockerd did not answer within $DOCKERD_TIMEOUT s (its log is above)"
die "dockerd exited at start (its log is above)"
