#!/usr/bin/env bash
# Gives a daprd (Dapr's sidecar) of the pinned version and prints its path on the last line of stdout:
#   DAPRD=$(scripts/setup-daprd.sh | tail -n 1)
#   SENTRY=$(scripts/setup-daprd.sh sentry | tail -n 1)     Dapr's Sentry (the mTLS certificate authority), same version
#   scripts/setup-daprd.sh operator|injector|placement|scheduler    the rest of Dapr's control plane, for a cluster
#                                   (tools/dapr-control-plane: a module of its own, so they never move daprd's versions)
# It uses, in order: a binary on PATH or in ~/.dapr/bin of that version; the cached build; else it builds one from the
# Go module proxy with the local Go toolchain (tools/daprd: Dapr's runtime with only the components this project
# uses, and tools/daprd/sentry: Dapr's cmd/sentry as it is, in the same module so that both take the same module
# versions; no prebuilt binary is downloaded). The cache lives in $DAPR_CACHE_DIR (default ~/.cache/todo-dapr), keyed
# by the version and the wrapper's sources, so a second run takes a moment.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-daprd
. "$ROOT/scripts/lib.sh"

DAPR_VERSION=1.18.3
DAPR_COMMIT=2dcf2e3548faf3c740b3d29ee300e2132db65cff
WHAT=${1:-daprd}
wrapper=$ROOT/tools/daprd
case "$WHAT" in
  daprd) package=. ; about="first time only; about 3 minutes on 2 cores" ;;
  sentry) package=sentry ; about="first time only; about 2 minutes on 2 cores, seconds after daprd" ;;
  operator|injector|placement|scheduler)
    wrapper=$ROOT/tools/dapr-control-plane
    package=github.com/dapr/dapr/cmd/$WHAT
    about="first time only; a minute or two on 2 cores" ;;
  *) die "usage: scripts/setup-daprd.sh [daprd|sentry|operator|injector|placement|scheduler]" ;;
esac

version_of() { "$1" --version 2>/dev/null | tail -n 1 || true; }

# Sentry has no --version flag (it logs its version at start), so only a daprd already installed is taken.
for candidate in "$(command -v "$WHAT" || true)" "$HOME/.dapr/bin/$WHAT"; do
  if [ "$WHAT" = daprd ] && [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$DAPR_VERSION" ]; then
    say "using $candidate (Dapr $DAPR_VERSION)"
    echo "$candidate"
    exit 0
  fi
done

bin=$(build_go_tool "$WHAT" "$wrapper" "$DAPR_VERSION" "$about" \
  "-X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION \
   -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION \
   -X github.com/dapr/dapr/pkg/buildinfo.gitcommit=$DAPR_COMMIT" "$package")
[ "$WHAT" != daprd ] || [ "$(version_of "$bin")" = "$DAPR_VERSION" ] || die "$bin does not report version $DAPR_VERSION; delete it and re-run"
echo "$bin"
