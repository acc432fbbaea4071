#!/usr/bin/env bash
# Builds the two images, todo-api:latest and notification-service:latest, with `docker build` and the Dockerfiles at
# the top of the repository. No registry can be pulled from here, so the base images are made first, once:
#   local/bookworm-minbase  debootstrap --variant=minbase of Debian bookworm, then docker import
#   local/maven-jdk17       + JDK 17 and Maven (docker/build-base.Dockerfile), the build stage
#   local/jre17             + the headless JRE 17 (docker/runtime-base.Dockerfile), the runtime stage
#   local/daprd:1.18.3      the daprd of scripts/setup-daprd.sh (docker/daprd.Dockerfile), for container-tests/
# Elsewhere, `docker build -f Dockerfile.todo .` uses the public images named in the Dockerfiles instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=build-images
. "$ROOT/scripts/lib.sh"
export DOCKER_BUILDKIT=0

"$ROOT/scripts/start-docker.sh"
started=$(date +%s)

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have_image local/bookworm-minbase; then
  apt_install debootstrap
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || die "cannot find the Debian mirror apt uses in /etc/apt/sources.list*"
  dir=$(mktemp -d)
  say "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$dir.log" 2>&1 \
    || { tail -n 20 "$dir.log" >&2; die "debootstrap failed"; }
  tar -C "$dir" -c . | docker import - local/bookworm-minbase > /dev/null
  rm -rf "$dir" "$dir.log"
fi

base_context=$(mktemp -d)
trap 'rm -rf "$base_context"' EXIT
cp /etc/ssl/certs/ca-certificates.crt "$base_context/"
if [ -f /etc/ssl/certs/java/cacerts ]; then
  cp /etc/ssl/certs/java/cacerts "$base_context/"
else
  die "no Java trust store at /etc/ssl/certs/java/cacerts on this machine (install ca-certificates-java)"
fi
for spec in maven-jdk17:build-base jre17:runtime-base; do
  name=local/${spec%%:*}
  if ! have_image "$name"; then
    say "building $name"
    docker build -q -t "$name" -f "$ROOT/docker/${spec#*:}.Dockerfile" "$base_context" > /dev/null
  fi
done
say "base images ready after $(( $(date +%s) - started )) s"

# The sidecar as a container, for the container smoke test (container-tests/): the daprd of scripts/setup-daprd.sh.
DAPRD=$("$ROOT/scripts/setup-daprd.sh" | tail -n 1)
daprd_context=$(mktemp -d)
cp "$DAPRD" "$daprd_context/daprd"
docker build -q -t local/daprd:1.18.3 -f "$ROOT/docker/daprd.Dockerfile" "$daprd_context" > /dev/null
rm -rf "$daprd_context"

for app in todo:todo-api notification:notification-service; do
  file=Dockerfile.${app%%:*}
  tag=${app#*:}:latest
  t0=$(date +%s)
  say "docker build -f $file -t $tag ."
  docker build -q -f "$ROOT/$file" -t "$tag" \
    --build-arg BUILD_IMAGE=local/maven-jdk17 --build-arg RUNTIME_IMAGE=local/jre17 "$ROOT" > /dev/null
  say "$tag built in $(( $(date +%s) - t0 )) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"
done
