#!/usr/bin/env bash
# Gives k6 of the pinned version and prints its path on the last line of stdout: K6=$(scripts/setup-k6.sh | tail -n 1)
# A k6 on PATH of that version is used as it is; else it is built once from the Go module proxy (tools/k6) and cached.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-k6
. "$ROOT/scripts/lib.sh"

K6_VERSION=v2.1.0

if command -v k6 >/dev/null && k6 version 2>/dev/null | grep -q "k6 $K6_VERSION "; then
  say "using $(command -v k6) ($K6_VERSION)"
  command -v k6
  exit 0
fi
bin=$(build_go_tool k6 "$ROOT/tools/k6" "$K6_VERSION" "first time only; about 1 minute on 2 cores")
"$bin" version | grep -q "k6 $K6_VERSION " || die "$bin does not report version $K6_VERSION; delete it and re-run"
echo "$bin"
