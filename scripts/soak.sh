#!/usr/bin/env bash
# The soak test, outside CI: hours of steady load on the embedded system, a replica restarted halfway, every process's
# RSS sampled; writes load/results/soak-<time>/ and docs/SOAK.md + docs/soak.png. See scripts/soak.py for the knobs:
#   scripts/soak.sh                        DURATION=2h10m RATE=20 STORE=redis
#   DURATION=10m RATE=50 scripts/soak.sh   a short one
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=soak
. "$ROOT/scripts/lib.sh"
require_java_and_maven
apt_install python3-matplotlib redis-server redis-tools
(cd "$ROOT" && mvn -B -q -ntp package -DskipTests) || die "the Maven build failed"
"$ROOT/scripts/setup-daprd.sh" > /dev/null
exec /usr/bin/python3 "$ROOT/scripts/soak.py"
