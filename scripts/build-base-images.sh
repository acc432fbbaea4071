#!/usr/bin/env bash
# Makes the base images of the Dockerfiles where no container registry can be pulled from, once (an image that is
# already there is kept; REBUILD=1 makes them anew):
#   local/bookworm-minbase  debootstrap --variant=minbase of Debian bookworm, then `docker import`
#   local/maven-jdk17       + JDK 17 and Maven from Debian, trusting the host's local CAs (docker/build-base.Dockerfile)
# The Debian mirror is the one apt uses here (/etc/apt/sources.list*). Needs root (debootstrap) and a Docker engine
# (started by scripts/start-docker.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=build-base-images
. "$ROOT/scripts/lib.sh"
export DOCKER_BUILDKIT=0

SUITE=bookworm
MINBASE=local/bookworm-minbase
BUILD_BASE=local/maven-jdk17

"$ROOT/scripts/start-docker.sh"
started=$(date +%s)
have_image() { [ "${REBUILD:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }
size_of() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

# The Debian mirror apt uses: deb822 (.sources, "URIs:") first, then the one-line format.
debian_mirror() {
  local mirror=""
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }')
  [ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }')
  echo "${mirror%/}"
}

if have_image "$MINBASE"; then
  say "$MINBASE is there ($(size_of "$MINBASE"))"
else
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  command -v debootstrap >/dev/null || apt_install debootstrap
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "cannot find the Debian mirror apt uses in /etc/apt/sources.list*; set one there and re-run"
  dir=$(mktemp -d /tmp/debootstrap-$SUITE.XXXXXX)
  log=$dir.log
  trap 'rm -rf "$dir"' EXIT
  say "debootstrap --variant=minbase $SUITE from $mirror (log: $log; about 1-3 minutes)"
  t0=$(date +%s)
  debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" > "$log" 2>&1 \
    || { tail -n 30 "$log" >&2; die "debootstrap failed (the end of its log is above)"; }
  # No apt lists, caches or logs in the image; apt inside it uses the same mirror.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log
  echo "deb $mirror $SUITE main" > "$dir/etc/apt/sources.list"
  say "debootstrap done in $(( $(date +%s) - t0 )) s; docker import as $MINBASE"
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' - "$MINBASE" > /dev/null
  rm -rf "$dir" "$log"
  trap - EXIT
  say "$MINBASE imported ($(size_of "$MINBASE"))"
fi

# The build image trusts what the host trusts: the CAs added locally (Debian's /usr/local/share/ca-certificates, e.g.
# a company's TLS-inspecting proxy) go into its PEM bundle and its Java trust store, so Maven reaches Central over
# HTTPS wherever the host does.
context=$(mktemp -d /tmp/base-image-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/local-ca"
if [ -d /usr/local/share/ca-certificates ]; then
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp {} "$context/local-ca/" \;
fi

for spec in "$BUILD_BASE:build-base"; do
  name=${spec%%:*}
  recipe=$(sha256sum "$ROOT/docker/${spec#*:}.Dockerfile" | cut -c1-12)
  if have_image "$name" && [ "$(docker image inspect -f '{{index .Config.Labels "todo-dapr.recipe"}}' "$name")" = "$recipe" ]; then
    say "$name is there ($(size_of "$name"))"
    continue
  fi
  t0=$(date +%s)
  [ "$name" != "$BUILD_BASE" ] || say "local CAs given to $BUILD_BASE: $(find "$context/local-ca" -type f -printf '%f ')"
  say "docker build -t $name -f docker/${spec#*:}.Dockerfile (apt-get from Debian inside; about a minute)"
  docker build -q --build-arg BASE_IMAGE="$MINBASE" --label todo-dapr.recipe="$recipe" -t "$name" -f "$ROOT/docker/${spec#*:}.Dockerfile" "$context" \
    > "$context/build.log" 2>&1 || { tail -n 30 "$context/build.log" >&2; die "building $name failed"; }
  say "$name built in $(( $(date +%s) - t0 )) s ($(size_of "$name"))"
done
say "base images ready in $(( $(date +%s) - started )) s: $MINBASE, $BUILD_BASE"
