#!/usr/bin/env bash
# The test command of the README. Layered, fastest first; each layer runs only when the one before it passed.
#   1. verticle unit tests and the fat jars (mvn verify): seconds
#   2. end-to-end against real daprd sidecars (scripts/run.sh systems, mvn -Pe2e): minutes; daprd is built once
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=test
. scripts/lib.sh

require_java_and_maven
command -v curl >/dev/null || apt_install curl
started=$(date +%s)
layer() { say "=== layer $1 ($(( $(date +%s) - started )) s so far)"; }

layer "1: verticle unit tests and fat jars (mvn -B verify)"
mvn -B -ntp verify

layer "2: end-to-end against real Dapr sidecars"
command -v redis-server >/dev/null || apt_install redis-server redis-tools
scripts/setup-daprd.sh >/dev/null
# Unit tests already ran in layer 1: -Dtest=none skips them here, failsafe runs the *E2E classes.
mvn -B -ntp -Pe2e verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false
for report in e2e-tests/target/e2e/replica-spread.txt e2e-tests/target/e2e/failover.txt; do
  [ -f "$report" ] && { say "$report:"; sed 's/^/    /' "$report" >&2; }
done

say "all layers passed in $(( $(date +%s) - started )) s"
