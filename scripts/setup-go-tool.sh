#!/usr/bin/env bash
# Gives a Go tool this project uses, of its pinned version, and prints its path on the last line of stdout:
#   K6=$(scripts/setup-go-tool.sh k6 | tail -n 1)          k6 v2.1.0, the load generator of load/
#   KUSTOMIZE=$(scripts/setup-go-tool.sh kustomize | tail -n 1)   kustomize v5.7.1, renders manifests/ in the tests
# One on PATH of that version is used as it is; else it is built once from the Go module proxy (tools/NAME) and cached.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-go-tool
. "$ROOT/scripts/lib.sh"

case "${1:-}" in
  k6) version=v2.1.0; version_cmd=(version); about="first time only; about 1 minute on 2 cores" ;;
  kustomize) version=v5.7.1; version_cmd=(version); about="first time only; under a minute on 2 cores" ;;
  prometheus) version=v0.316.0; version_cmd=(--version); about="first time only; about 2 minutes on 2 cores" ;;
  *) die "usage: scripts/setup-go-tool.sh k6|kustomize|prometheus" ;;
esac
name=$1

if command -v "$name" >/dev/null && "$name" "${version_cmd[@]}" 2>/dev/null | grep -q "$version"; then
  say "using $(command -v "$name") ($version)"
  command -v "$name"
  exit 0
fi
if [ "$name" = prometheus ]; then
  # A tool of its wrapper module; static scrape targets only (remove_all_sd drops the cloud discovery plugins).
  bin=$(build_go_tool "$name" "$ROOT/tools/$name" "$version" "$about" \
    "-X github.com/prometheus/common/version.Version=${version#v}" github.com/prometheus/prometheus/cmd/prometheus \
    remove_all_sd)
else
  bin=$(build_go_tool "$name" "$ROOT/tools/$name" "$version" "$about")
fi
echo "$bin"
