#!/usr/bin/env bash
# Creates the Dapr API token Secrets that manifests/ names but does not contain, in namespace todo-dapr (created from
# manifests/base/namespace.yaml if it is not there yet), on the cluster of kubectl's current context:
#   todo-api-dapr-api-token, todo-api-app-api-token, notification-service-dapr-api-token,
#   notification-service-app-api-token
# each with the key "token" (the key Dapr's sidecar injector reads) holding a random 32-byte hex token from
# /dev/urandom. The token goes through a private temporary file (--from-file), never a command line or the output.
# Idempotent: a Secret that already exists is left alone. Run it before `kubectl apply -k manifests/`.
# To rotate a token: kubectl -n todo-dapr delete secret NAME, run this again, then
#   kubectl -n todo-dapr rollout restart deployment/todo-api deployment/notification-service
# (the sidecar and the app read the token when their containers start).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=k8s-api-tokens
. "$ROOT/scripts/lib.sh"

NAMESPACE=todo-dapr
# manifests/base/{todo-api,notification-service}.yaml: dapr.io/api-token-secret and dapr.io/app-token-secret
# (tests/manifests/test_manifests.py checks that this list and the manifests agree).
SECRETS=(
  todo-api-dapr-api-token
  todo-api-app-api-token
  notification-service-dapr-api-token
  notification-service-app-api-token
)

command -v kubectl >/dev/null || die "needs kubectl, configured for the cluster to deploy to"

# --ignore-not-found: empty when it does not exist, an error (and exit) when the cluster cannot be asked.
found=$(kubectl get namespace "$NAMESPACE" --ignore-not-found -o name) || die "kubectl cannot read namespace $NAMESPACE"
if [ -z "$found" ]; then
  say "creating namespace $NAMESPACE from manifests/base/namespace.yaml"
  kubectl apply -f "$ROOT/manifests/base/namespace.yaml" >/dev/null
fi

SCRATCH=$(umask 077 && mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for name in "${SECRETS[@]}"; do
  found=$(kubectl -n "$NAMESPACE" get secret "$name" --ignore-not-found -o name) \
    || die "kubectl cannot read secret $name in $NAMESPACE"
  if [ -n "$found" ]; then
    say "secret $name exists: left as it is"
    continue
  fi
  (umask 077 && od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$SCRATCH/token")
  [ "$(wc -c < "$SCRATCH/token")" -eq 64 ] || die "could not read 32 bytes from /dev/urandom"
  kubectl -n "$NAMESPACE" create secret generic "$name" --from-file=token="$SCRATCH/token" >/dev/null
  rm -f "$SCRATCH/token"
  kubectl -n "$NAMESPACE" label secret "$name" app.kubernetes.io/part-of=todo-dapr >/dev/null
  say "secret $name created (key token, 32 random bytes as hex)"
done
