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
