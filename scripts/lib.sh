# Shared by the scripts in this folder: messages, and the tools every script needs. Source it, do not run it.

say() { printf '[%s] %s\n' "${SCRIPT_NAME:-$(basename "$0" .sh)}" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# apt-get install, once, only for what is missing; works as root without a terminal (CI).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "need the packages ${missing[*]} and there is no apt-get: install them and re-run"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]} with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Java 17+ and Maven: the machine's if they are there, Debian's otherwise.
require_java_and_maven() {
  local java_major=0
  if command -v java >/dev/null; then
    java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1)
  fi
  if [ "${java_major:-0}" -lt 17 ] || ! command -v javac >/dev/null; then
    apt_install openjdk-17-jdk-headless
  fi
  command -v mvn >/dev/null || apt_install maven
}

# The port plan of scripts/run.sh, the one place every script and test takes a system's ports from. Process k (0 =
# todo-api, 1..N = notification-service replicas, N+1 = billing-service) gets app port 8000+k and sidecar ports 3500+10k (HTTP), 20001+10k
# (gRPC), 20002+10k (internal gRPC), 9090+10k (metrics); redis-server 6390, Sentry 20000 (gRPC), 20003 (healthz) and
# 20004 (metrics), Zipkin 9411, Prometheus 19090; PORT_OFFSET added to all. scripts/test-systems.txt lists the offsets
# of the systems the test command starts (PortPlanTest proves them apart).
#   plan_port WHAT K OFFSET     WHAT: app http grpc internal metrics (of process K), or redis sentry sentry-healthz
#                               sentry-metrics zipkin prometheus (K is ignored)
#   plan_ports OFFSET REPLICAS  every port of such a system, "port what" a line
plan_port() {
  case "$1" in
    app) echo $((8000 + $2 + $3)) ;;
    http) echo $((3500 + 10 * $2 + $3)) ;;
    grpc) echo $((20001 + 10 * $2 + $3)) ;;
    internal) echo $((20002 + 10 * $2 + $3)) ;;
    metrics) echo $((9090 + 10 * $2 + $3)) ;;
    redis) echo $((6390 + $3)) ;;
    sentry) echo $((20000 + $3)) ;;
    sentry-healthz) echo $((20003 + $3)) ;;
    sentry-metrics) echo $((20004 + $3)) ;;
    zipkin) echo $((9411 + $3)) ;;
    prometheus) echo $((19090 + $3)) ;;
    *) die "plan_port: no port '$1'" ;;
  esac
}
plan_ports() {
  local k what
  for k in $(seq 0 $(($2 + 1))); do # REPLICAS + 1: billing-service
    for what in app http grpc internal metrics; do echo "$(plan_port "$what" "$k" "$1") $what $k"; done
  done
  for what in redis sentry sentry-healthz sentry-metrics zipkin prometheus; do echo "$(plan_port "$what" 0 "$1") $what"; done
}

# Whether something on this machine accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The rows of scripts/test-systems.txt without comments: "name offset replicas other-ports".
test_systems() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$(dirname "${BASH_SOURCE[0]}")/test-systems.txt"; }
# test_system_offset NAME: the PORT_OFFSET of that row.
test_system_offset() {
  local offset
  offset=$(test_systems | awk -v n="$1" '$1 == n {print $2}')
  [ -n "$offset" ] || die "no system '$1' in scripts/test-systems.txt"
  echo "$offset"
}
# test_system_ports NAME: every port of that row ("port what" a line): its system's (plan_ports) and its others.
test_system_ports() {
  local name offset replicas others range
  read -r name offset replicas others < <(test_systems | awk -v n="$1" '$1 == n')
  [ -n "$name" ] || die "no system '$1' in scripts/test-systems.txt"
  [ "$offset" = - ] || plan_ports "$offset" "$replicas"
  [ "${others:--}" = - ] && return 0
  for range in ${others//,/ }; do
    seq "${range%-*}" "${range#*-}" | sed "s/\$/ $name/"
  done
}

# Builds the Go program of the wrapper module $2 (tools/NAME), or its package $6 (a folder in it, or the import path of
# one of the module's `tool`s), once and caches it, keyed by its sources, under $DAPR_CACHE_DIR (default
# ~/.cache/todo-dapr)/$1-$3-<hash>/$1. Prints the binary's path. Progress goes to stderr.
#   build_go_tool NAME WRAPPER_DIR VERSION "ABOUT THE BUILD" [extra -ldflags] [package folder] [build tags]
build_go_tool() {
  local name=$1 wrapper=$2 version=$3 about=$4 ldflags=${5:-} package=${6:-.} tags=${7:-}
  local key cache bin started heartbeat
  local sources=("$wrapper/go.mod" "$wrapper/go.sum")
  compgen -G "$wrapper/*.go" >/dev/null && sources+=("$wrapper"/*.go)
  local target=./$package
  if [ -d "$wrapper/$package" ]; then
    [ "$package" = . ] || sources+=("$wrapper/$package"/*.go)
  else
    target=$package # an import path: one of the wrapper module's tools
  fi
  # Patches to the modules it is built from (WRAPPER_DIR/patches/<module>@<version>/*.patch; see its README.md).
  local patch_dirs=()
  if [ -d "$wrapper/patches" ]; then
    while IFS= read -r dir; do patch_dirs+=("$dir"); done < <(find "$wrapper/patches" -type d -name '*@*' | sort)
    for dir in "${patch_dirs[@]}"; do sources+=("$dir"/*.patch); done
  fi
  key=$( { cat "${sources[@]}"; [ -z "$tags" ] || echo "tags $tags"; } | sha256sum | cut -c1-12)
  cache=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}/$name-$version-$key
  bin=$cache/$name
  if [ -x "$bin" ]; then
    say "using the cached build $bin ($name $version)"
    echo "$bin"
    return 0
  fi
  # One build of a tool at a time, whoever asks (two test runs, scripts/test.sh's background builds and a layer):
  # the second waits for the first and takes its binary, rather than building it again or writing the same $bin.tmp.
  mkdir -p "$cache"
  local lock
  exec {lock}>"$cache.lock"
  if ! flock -n "$lock"; then
    say "waiting for the build of $name under way in another process ($cache.lock)"
    flock "$lock"
  fi
  if [ -x "$bin" ]; then
    exec {lock}>&-
    say "using the build $bin ($name $version) another process just made"
    echo "$bin"
    return 0
  fi
  command -v go >/dev/null || die "building $name needs the Go toolchain (go 1.21 or newer); install Go and re-run"
  say "building $name $version from the Go module proxy ($about)"
  started=$(date +%s)
  ( exec {lock}>&-; while sleep 30; do say "  still building $name... $(( $(date +%s) - started )) s"; done ) >&2 &
  heartbeat=$!
  local modfile_flag=()
  [ ${#patch_dirs[@]} -eq 0 ] || command -v patch >/dev/null || apt_install patch
  if [ ${#patch_dirs[@]} -gt 0 ]; then
    local modfile=$cache/build.mod dir module version_of_module copy
    cp "$wrapper/go.mod" "$modfile"
    cp "$wrapper/go.sum" "$cache/build.sum"
    for dir in "${patch_dirs[@]}"; do
      module=${dir#"$wrapper/patches/"}
      version_of_module=${module##*@}
      module=${module%@*}
      copy=$cache/src/$(basename "$module")@$version_of_module
      rm -rf "$copy" && mkdir -p "$(dirname "$copy")"
      cp -r "$(cd "$wrapper" && GOFLAGS=-mod=mod go mod download -json "$module@$version_of_module" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" "$copy"
      chmod -R u+w "$copy"
      for patch_file in "$dir"/*.patch; do
        say "  patching $module@$version_of_module: $(basename "$patch_file")"
        patch -s -p1 -d "$copy" < "$patch_file" || die "$patch_file does not apply to $module@$version_of_module"
      done
      printf '\nreplace %s => %s\n' "$module" "$copy" >> "$modfile"
    done
    modfile_flag=(-modfile "$modfile")
  fi
  if ! (cd "$wrapper" && CGO_ENABLED=0 GOTOOLCHAIN=auto GOFLAGS=-mod=readonly \
        go build "${modfile_flag[@]}" ${tags:+-tags "$tags"} -trimpath -o "$bin.tmp" -ldflags "-s -w $ldflags" "$target") >&2; then
    kill "$heartbeat" 2>/dev/null || true
    die "the $name build failed (see the Go errors above)"
  fi
  kill "$heartbeat" 2>/dev/null || true
  mv "$bin.tmp" "$bin"
  exec {lock}>&-
  say "built $bin in $(( $(date +%s) - started )) s, $(( $(stat -c %s "$bin") / 1024 / 1024 )) MiB"
  echo "$bin"
}

# SIGTERM to each PID still alive, then up to 10 s for all of them to exit; SIGKILL (and say so) to any left.
stop_pids() {
  local pids=() pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && { kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); }; done
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ $left -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && { say "process $pid did not stop in 10 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  return 0
}

# class_data_archive JAR [JAVA OPTIONS...]: prints the path of JAR's class-data archive (AppCDS, JDK 17's dynamic
# archive) for these options, made once by a training run (TRAINING_RUN=true: the service starts, sends each of its
# routes one request from itself, with no sidecar behind it, and stops; -XX:ArchiveClassesAtExit) and kept under
# $DAPR_CACHE_DIR/cds, keyed by the jar, the JVM and the options. Prints nothing when it cannot be made: the service
# then starts without one. Start with -XX:SharedArchiveFile=<path>: the classes are mapped from the archive, already
# parsed and verified, instead of being loaded from the jar (measured: ready 960 -> 625 ms for todo-api).
# ARCHIVE_JAVA=<a JDK 25 java> ARCHIVE_KIND=aot: the same training run records an AOT cache instead (JEP 483/515,
# -XX:AOTCacheOutput; start with -XX:AOTCache=<path>): the classes loaded and linked, with their profiles.
class_data_archive() {
  local jar=$1
  shift
  local dir=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}/cds key archive ports java=${ARCHIVE_JAVA:-java} ext=jsa
  local extra=(-Xshare:auto) record=-XX:ArchiveClassesAtExit
  if [ "${ARCHIVE_KIND:-cds}" = aot ]; then
    ext=aot extra=() record=-XX:AOTCacheOutput
  fi
  key=$( (sha256sum "$jar" | cut -c1-64; "$java" -version 2>&1; echo "$*") | sha256sum | cut -c1-16)
  archive=$dir/$(basename "$jar" .jar)-$key.$ext
  if [ ! -s "$archive" ]; then
    mkdir -p "$dir"
    # Two free ports on loopback: the service's own, and a sidecar port where nothing listens.
    ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
    # shellcheck disable=SC2086 # the ports are two words
    set -- $ports "$@"
    local app_port=$1 dead_port=$2
    shift 2
    if env APP_PORT="$app_port" DAPR_HTTP_PORT="$dead_port" TRAINING_RUN=true STATE_TIMEOUT_MS=300 \
        NOTIFY_TIMEOUT_MS=300 OTEL_EXPORTER_ZIPKIN_ENDPOINT="http://127.0.0.1:$dead_port/api/v2/spans" \
        timeout 60 "$java" "$@" "${extra[@]}" "$record=$archive.$$.tmp" -jar "$jar" > "$archive.$$.log" 2>&1 && [ -s "$archive.$$.tmp" ]; then
      rm -f "$dir/$(basename "$jar" .jar)"-*."$ext"  # the archives of older builds
      mv "$archive.$$.tmp" "$archive"
      rm -f "$archive.$$.log"
    else
      rm -f "$archive.$$.tmp"
      say "no class-data archive for $(basename "$jar") (see $archive.$$.log); it starts without one"
      return 0
    fi
  fi
  echo "$archive"
}

# The outbox's backlog in the Redis of scripts/run.sh at port $1: the events of the internal topic and of
# notifications/notifications-retry that todo-api's group has not yet read and acknowledged (XINFO GROUPS: lag and
# pending); 0 once every notification the outbox holds has been handled.
outbox_backlog() { # redis-port
  local total=0 stream n
  for stream in defaulttodo-apinotificationsoutbox notifications notifications-retry; do
    n=$(redis-cli -p "$1" xinfo groups "$stream" 2>/dev/null \
      | awk 'prev == "pending" || prev == "lag" { if ($1 ~ /^[0-9]+$/) s += $1 } { prev = $1 } END { print s + 0 }')
    total=$((total + n))
  done
  echo "$total"
}

# outbox_drain REDIS-PORT LIMIT-SECONDS: waits until outbox_backlog is 0 and prints how many ms that took; when
# LIMIT-SECONDS pass first, prints the ms waited and returns 1.
outbox_drain() {
  local start ms
  start=$(date +%s%N)
  while [ "$(outbox_backlog "$1")" -gt 0 ]; do
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$ms" -lt $(( $2 * 1000 )) ] || { echo "$ms"; return 1; }
    sleep 0.2
  done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
