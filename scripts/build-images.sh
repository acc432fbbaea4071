#!/usr/bin/env bash
# Builds the three service images with `docker build` and the Dockerfiles at the top of the repository, tagged with the
# project's version (pom.xml <version>; manifests/base/kustomization.yaml names the same tag, a test checks it):
#   todo-api:1.0.0              Dockerfile.todo
#   notification-service:1.0.0  Dockerfile.notification
#   billing-service:1.0.0       Dockerfile.billing
# against the local base images of scripts/build-base-images.sh (no registry can be pulled from here), after starting
# a Docker engine if none answers (scripts/start-docker.sh). Elsewhere, `docker build -f Dockerfile.todo .` uses the
# public images the Dockerfiles name by default. Prints each image's size and build time. Then, for the container
# smoke test (container-tests/), on the same runtime base:
#   local/daprd:1.18.3           docker/daprd.Dockerfile, from the daprd of scripts/setup-daprd.sh
#   local/sentry:1.18.3          docker/sentry.Dockerfile, from the Sentry of `scripts/setup-daprd.sh sentry`
#   local/redis:7.0              docker/redis.Dockerfile, Debian's redis-server (bookworm: 7.0.x, checked)
#   local/k6:2.1.0               docker/k6.Dockerfile, from the k6 of scripts/setup-go-tool.sh (the k6 Job on a cluster)
#   local/zipkin:3.5.1           docker/zipkin.Dockerfile, the Zipkin exec jar of scripts/setup-zipkin.sh (the trace
#                                backend manifests/ deploy; openzipkin/zipkin:3.5.1 cannot be pulled here)
#   --measure-rebuild   then changes one line of a Java source, rebuilds todo-api, restores the file, and prints how
#                       long the rebuild took (the dependency layer must come from the cache: the build is offline)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=build-images
. "$ROOT/scripts/lib.sh"
export DOCKER_BUILDKIT=0   # the legacy builder: this machine has no buildx

MEASURE_REBUILD=0
for arg in "$@"; do
  case "$arg" in
    --measure-rebuild) MEASURE_REBUILD=1 ;;
    *) die "unknown argument $arg (usage: scripts/build-images.sh [--measure-rebuild])" ;;
  esac
done

BUILD_IMAGE=${BUILD_IMAGE:-local/maven-jdk17}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-local/bookworm-minbase}
"$ROOT/scripts/start-docker.sh"
if [[ "$BUILD_IMAGE" == local/* || "$RUNTIME_IMAGE" == local/* ]]; then
  "$ROOT/scripts/build-base-images.sh"
fi

started=$(date +%s)
revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$ROOT/pom.xml" | head -n 1)
LOG_DIR=${TMPDIR:-/tmp}/todo-dapr-image-builds
mkdir -p "$LOG_DIR"

# build FILE TAG: docker build with the base images as build arguments; the log goes to a file, its end to the
# terminal on failure. Prints the seconds it took.
build() {
  local file=$1 tag=$2 log="$LOG_DIR/${2%%:*}.log" t0
  t0=$(date +%s)
  if ! docker build -f "$ROOT/$file" -t "$tag" \
        --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
        --build-arg VERSION="$version" --build-arg REVISION="$revision" \
        "$ROOT" > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "docker build -f $file failed (the end of its log is above; all of it in $log)"
  fi
  echo $(( $(date +%s) - t0 ))
}
size_of() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

for app in todo:todo-api notification:notification-service billing:billing-service; do
  file=Dockerfile.${app%%:*}
  tag=${app#*:}:$version
  say "docker build -f $file -t $tag . (BUILD_IMAGE=$BUILD_IMAGE RUNTIME_IMAGE=$RUNTIME_IMAGE)"
  seconds=$(build "$file" "$tag")
  say "$tag built in $seconds s: $(size_of "$tag")"
done
say "the three images built in $(( $(date +%s) - started )) s"

# binary_image NAME DOCKERFILE: local/NAME:1.18.3 from the binary `scripts/setup-daprd.sh NAME` gives now, so the image
# never lags behind the binary (Docker's cache makes a rebuild instant).
binary_image() { # name tag dockerfile binary
  local name=$1 tag=$2 dockerfile=$3 context
  context=$(mktemp -d)
  cp "$4" "$context/$name"
  docker build --build-arg BASE_IMAGE="$RUNTIME_IMAGE" -t "local/$name:$tag" -f "$ROOT/$dockerfile" \
    "$context" > "$LOG_DIR/$name.log" 2>&1 \
    || { tail -n 20 "$LOG_DIR/$name.log" >&2; die "building local/$name:$tag failed (all of its log in $LOG_DIR/$name.log)"; }
  rm -rf "$context"
  say "local/$name:$tag ready: $(size_of "local/$name:$tag")"
}
# The sidecar as a container, for the container smoke test (container-tests/), and Sentry, the mTLS certificate
# authority its sidecars get their certificates from; k6 for the load Job on a cluster that cannot pull grafana/k6.
binary_image daprd 1.18.3 docker/daprd.Dockerfile "$("$ROOT/scripts/setup-daprd.sh" daprd | tail -n 1)"
binary_image sentry 1.18.3 docker/sentry.Dockerfile "$("$ROOT/scripts/setup-daprd.sh" sentry | tail -n 1)"
binary_image k6 2.1.0 docker/k6.Dockerfile "$("$ROOT/scripts/setup-go-tool.sh" k6 | tail -n 1)"

# Redis for the container smoke test (todo-api's outbox and state, notification-service's delivery record): Debian's
# redis-server on the same base (docker/redis.Dockerfile, empty context; Docker's cache makes a rebuild instant).
redis_context=$(mktemp -d)
docker build --build-arg BASE_IMAGE="$RUNTIME_IMAGE" -t local/redis:7.0 -f "$ROOT/docker/redis.Dockerfile" \
  "$redis_context" > "$LOG_DIR/redis.log" 2>&1 \
  || { tail -n 20 "$LOG_DIR/redis.log" >&2; die "building local/redis failed (all of its log in $LOG_DIR/redis.log)"; }
rm -rf "$redis_context"
redis_version=$(docker run --rm --entrypoint redis-server local/redis:7.0 --version | sed -n 's/.* v=\([0-9.]*\) .*/\1/p')
case "$redis_version" in 7.0.*) ;; *) die "local/redis:7.0 holds Redis '$redis_version', not 7.0.x: retag it" ;; esac
say "local/redis:7.0 ready (Redis $redis_version): $(size_of local/redis:7.0)"

# Zipkin, the trace backend manifests/base/zipkin.yaml deploys (its Service is where the sidecars and apps send spans):
# the exec jar on a jlinked runtime (docker/zipkin.Dockerfile; a cached rebuild is instant).
zipkin_context=$(mktemp -d)
cp "$("$ROOT/scripts/setup-zipkin.sh" | tail -n 1)" "$zipkin_context/zipkin.jar"
docker build --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" -t local/zipkin:3.5.1 \
  -f "$ROOT/docker/zipkin.Dockerfile" "$zipkin_context" > "$LOG_DIR/zipkin.log" 2>&1 \
  || { tail -n 20 "$LOG_DIR/zipkin.log" >&2; die "building local/zipkin failed (all of its log in $LOG_DIR/zipkin.log)"; }
rm -rf "$zipkin_context"
say "local/zipkin:3.5.1 ready: $(size_of local/zipkin:3.5.1)"

if [ "$MEASURE_REBUILD" = 1 ]; then
  source_file=$ROOT/todo-verticle/src/main/java/com/example/dapr/todo/TodoConfig.java
  [ -f "$source_file" ] || die "cannot find $source_file to change"
  backup=$(mktemp)
  cp -p "$source_file" "$backup"
  trap 'cp -p "$backup" "$source_file"; rm -f "$backup"' EXIT
  echo "// rebuild probe $(date +%s%N)" >> "$source_file"
  say "one line added to ${source_file#"$ROOT"/}; rebuilding todo-api"
  seconds=$(build Dockerfile.todo todo-api:rebuild-probe)
  cp -p "$backup" "$source_file"
  cached=$(grep -c 'Using cache' "$LOG_DIR/todo-api.log" || true)
  docker rmi todo-api:rebuild-probe > /dev/null
  say "rebuild after a one-line change: $seconds s ($cached steps from the cache, dependencies included; Maven ran offline)"
  # Put the image back on the unchanged source (from the cache, seconds).
  seconds=$(build Dockerfile.todo "todo-api:$version")
  say "todo-api:$version rebuilt on the restored source in $seconds s"
fi
