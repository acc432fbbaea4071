#!/usr/bin/env bash
# Validates manifests/ offline: kustomize renders it (and the with-load overlay), every Kubernetes object passes the
# Kubernetes schemas in strict mode (PyPI kubernetes-validate), every Dapr object passes the CRD schemas of Dapr 1.18.3
# (charts/dapr/crds/ of the github.com/dapr/dapr module), and tests/manifests/ asserts the project's rules
# (annotations, ports, probes, limits, restricted security context, ...). Ends with pytest's summary line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=validate-manifests
. "$ROOT/scripts/lib.sh"

KUSTOMIZE=$("$ROOT/scripts/setup-go-tool.sh" kustomize | tail -n 1)
DAPR_VERSION=1.18.3
DAPR_DIR=$(cd "$ROOT/tools/daprd" && go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$DAPR_DIR/charts/dapr/crds" ] || die "no Dapr CRDs in $DAPR_DIR/charts/dapr/crds"

VENV=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}/venv-manifests
REQUIREMENTS="kubernetes-validate==1.37.0 jsonschema==4.23.0 PyYAML==6.0.2 pytest==8.3.4"
if [ ! -x "$VENV/bin/pytest" ] || [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  command -v python3 >/dev/null || apt_install python3
  python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; rm -rf "$VENV"; python3 -m venv "$VENV"; }
  say "installing $REQUIREMENTS into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q $REQUIREMENTS
  echo "$REQUIREMENTS" > "$VENV/.requirements"
fi

cd "$ROOT"
KUSTOMIZE=$KUSTOMIZE DAPR_CRDS=$DAPR_DIR/charts/dapr/crds "$VENV/bin/pytest" -q -p no:cacheprovider tests/manifests "$@"
