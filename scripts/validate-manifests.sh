#!/usr/bin/env bash
# Validates manifests/ offline, with no cluster (CI runs it in the test command):
#   1. kustomize renders manifests/ and manifests/overlays/with-load/
#      (kustomize v5.7.1, built once from the Go module proxy by scripts/setup-go-tool.sh; v5.8.x needs go >= 1.27)
#   2. every Kubernetes object validates strictly against the Kubernetes $KUBERNETES_VERSION schemas
#      (PyPI kubernetes-validate, pinned, in a venv under ~/.cache/todo-dapr)
#   3. every Dapr object (Component, Configuration, Resiliency) validates against the CRD OpenAPI schemas of Dapr 1.18.3
#      (charts/dapr/crds/ of the Go module github.com/dapr/dapr@v1.18.3, `go mod download`), unknown fields rejected
#   4. the project's rules (tests/manifests/test_manifests.py): Dapr annotations, ports agreeing with the Dockerfiles
#      and the apps' defaults, probes, resources, the restricted Pod Security Standard, PDB, Component, access control,
#      Resiliency agreeing with the app's timeouts and breaker and with the embedded run's (dapr/components), the k6 Job
# All of it is one pytest run, which ends with pytest's summary line. Extra arguments go to pytest (e.g. -k rules).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=validate-manifests
. "$ROOT/scripts/lib.sh"

DAPR_VERSION=1.18.3
export KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.33.0}
CACHE=${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}
VENV=$CACHE/venv
REQUIREMENTS="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3 pytest==9.0.2"

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
command -v go >/dev/null || die "needs the Go toolchain (go 1.24 or newer) for kustomize and Dapr's CRDs; install Go and re-run"
KUSTOMIZE=$("$ROOT/scripts/setup-go-tool.sh" kustomize | tail -n 1)
say "kustomize $("$KUSTOMIZE" version) at $KUSTOMIZE"

# Outside any module, so the answer does not depend on a go.mod here; served from the module cache once downloaded.
dapr_json=$(cd "$SCRATCH" && GOFLAGS='' go mod download -json "github.com/dapr/dapr@v$DAPR_VERSION") \
  || die "go mod download github.com/dapr/dapr@v$DAPR_VERSION failed: $dapr_json"
DAPR_DIR=$(printf '%s' "$dapr_json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
export DAPR_CRDS=$DAPR_DIR/charts/dapr/crds DAPR_ANNOTATIONS=$DAPR_DIR/pkg/injector/annotations/annotations.go
[ -d "$DAPR_CRDS" ] || die "no Dapr CRDs in $DAPR_CRDS"
say "Dapr $DAPR_VERSION CRDs: $DAPR_CRDS"

if [ ! -x "$VENV/bin/pytest" ] || [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  command -v python3 >/dev/null || apt_install python3
  rm -rf "$VENV"
  python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; rm -rf "$VENV"; python3 -m venv "$VENV"; }
  say "installing $REQUIREMENTS into $VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check $REQUIREMENTS || die "pip install failed"
  echo "$REQUIREMENTS" > "$VENV/.requirements"
fi

cd "$ROOT"
for target in manifests manifests/overlays/with-load manifests/overlays/local; do
  rendered=$("$KUSTOMIZE" build "$target") || die "kustomize build $target failed"
  say "kustomize build $target: $(printf '%s\n' "$rendered" | awk '/^kind: / {print $2}' | sort | uniq -c \
    | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')"
done
say "Kubernetes $KUBERNETES_VERSION schemas (strict), Dapr $DAPR_VERSION CRD schemas, and the rules:"
export KUSTOMIZE
rm -rf "$SCRATCH"; trap - EXIT
exec "$VENV/bin/pytest" -p no:cacheprovider -v -rfE tests/manifests "$@"
