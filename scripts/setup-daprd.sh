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
GO_MIN=1.26.6
WRAPPER=$ROOT/tools/daprd

version_of() { "$1" --version 2>/dev/null | tail -n 1 || true; }

for candidate in "$(command -v daprd || true)" "$HOME/.dapr/bin/daprd"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$DAPR_VERSION" ]; then
    say "using $candidate (Dapr $DAPR_VERSION)"
    echo "$candidate"
    exit 0
  fi
done

key=$(cat "$WRAPPER/go.mod" "$WRAPPER/go.sum" "$WRAPPER"/*.go | sha256sum | cut -c1-12)
CACHE=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}/dapr-$DAPR_VERSION-$key
BIN=$CACHE/daprd
if [ -x "$BIN" ] && [ "$(version_of "$BIN")" = "$DAPR_VERSION" ]; then
  say "using the cached build $BIN (Dapr $DAPR_VERSION)"
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || die "building daprd needs the Go toolchain (go $GO_MIN or newer, or go 1.21+ that can fetch it); install Go and re-run"
go_version=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$go_version" | sort -V | head -n 1)" != "$GO_MIN" ]; then
  say "go $go_version is older than the go $GO_MIN Dapr $DAPR_VERSION needs: Go will fetch that toolchain from the module proxy"
fi

say "building daprd $DAPR_VERSION from the Go module proxy (first time only; about 3-6 minutes on 2 cores)"
mkdir -p "$CACHE"
started=$(date +%s)
( while sleep 30; do say "  still building... $(( $(date +%s) - started )) s"; done ) &
heartbeat=$!
trap 'kill $heartbeat 2>/dev/null || true' EXIT
(
  cd "$WRAPPER"
  CGO_ENABLED=0 GOTOOLCHAIN=auto go build -trimpath -o "$BIN.tmp" -ldflags "-s -w \
    -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION \
    -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION \
    -X github.com/dapr/dapr/pkg/buildinfo.gitcommit=$DAPR_COMMIT" .
) >&2 || die "the daprd build failed (see the Go errors above)"
mv "$BIN.tmp" "$BIN"
kill $heartbeat 2>/dev/null || true
[ "$(version_of "$BIN")" = "$DAPR_VERSION" ] || die "the built $BIN does not report version $DAPR_VERSION"
say "built $BIN in $(( $(date +%s) - started )) s, $(( $(stat -c %s "$BIN") / 1024 / 1024 )) MiB"
echo "$BIN"
