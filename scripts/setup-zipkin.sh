#!/usr/bin/env bash
# The Zipkin server the embedded run sends its traces to: io.zipkin:zipkin-server:3.5.1, its executable jar, from
# Maven Central (about 131 MB, once; then in ~/.m2). Prints the jar's path.
#   scripts/setup-zipkin.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-zipkin
. "$ROOT/scripts/lib.sh"

ZIPKIN_VERSION=3.5.1
require_java_and_maven
# Maven's own local repository (it follows user.home and settings.xml, not $HOME).
repository=$(cd "$ROOT" && mvn -B -q -ntp -Dstyle.color=never help:evaluate -Dexpression=settings.localRepository \
  -DforceStdout 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | tail -n 1)
[ -d "$repository" ] || repository=$HOME/.m2/repository
jar=$repository/io/zipkin/zipkin-server/$ZIPKIN_VERSION/zipkin-server-$ZIPKIN_VERSION-exec.jar
if [ ! -s "$jar" ]; then
  say "downloading zipkin-server $ZIPKIN_VERSION (exec jar, about 131 MB, once) from Maven Central"
  # -Dtransitive=false: the exec jar holds everything it needs; its pom's dependencies do not all resolve.
  (cd "$ROOT" && mvn -B -q -ntp dependency:get -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
    -Dtransitive=false) >&2 || die "cannot download io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec from Maven Central"
fi
[ -s "$jar" ] || die "zipkin-server's jar is not at $jar after the download"
echo "$jar"
