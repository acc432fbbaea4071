#!/usr/bin/env bash
# The test command of the README. Layered: the verticle unit tests first (seconds), then the slower layers.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=test
. scripts/lib.sh

require_java_and_maven
started=$(date +%s)

say "layer 1: verticle unit tests and fat jars (mvn -B verify)"
mvn -B -ntp verify

say "all layers passed in $(( $(date +%s) - started )) s"
