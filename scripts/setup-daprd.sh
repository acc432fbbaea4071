#!/usr/bin/env bash
# Gives a daprd (Dapr's sidecar) of the pinned version and prints its path on the last line of stdout:
#   DAPRD=$(scripts/setup-daprd.sh | tail -n 1)
# It uses, in order: a daprd on PATH or in ~/.dapr/bin of that version; the cached build; else it builds one from the
# Go module proxy with the local Go toolchain (tools/daprd: Dapr's runtime with only the components this project
# uses; no prebuilt binary is downloaded). The cache lives in $DAPR_CACHE_DIR (default ~/.cache/todo-dapr), keyed by
# the version and the wrapper's sources, so a second run takes a moment.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-daprd
. "$ROOT/scripts/lib.sh"

DAPR_VERSION=1.18.3
DAPR_COMMIT=2dcf2e3548faf3c740b3d29ee300e2132db65cff

version_of() { "$1" --version 2>/dev/null | tail -n 1 || true; }

for candidate in "$(command -v daprd || true)" "$HOME/.dapr/bin/daprd"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$DAPR_VERSION" ]; then
    say "using $candidate (Dapr $DAPR_VERSION)"
    echo "$candidate"
    exit 0
  fi
done

bin=$(build_go_tool daprd "$ROOT/tools/daprd" "$DAPR_VERSION" "first time only; about 3 minutes on 2 cores" \
  "-X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION \
   -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION \
   -X github.com/dapr/dapr/pkg/buildinfo.gitcommit=$DAPR_COMMIT")
[ "$(version_of "$bin")" = "$DAPR_VERSION" ] || die "$bin does not report version $DAPR_VERSION; delete it and re-run"
echo "$bin"
