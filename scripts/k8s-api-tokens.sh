#!/usr/bin/env bash
# Creates the Dapr API token Secrets that manifests/ names but does not contain, on the cluster of kubectl's current
# context, in their namespaces (each created from its namespace.yaml if it is not there yet):
#   todo-dapr: todo-api-dapr-api-token, todo-api-app-api-token, notification-service-dapr-api-token,
#              notification-service-app-api-token            (manifests/base/namespace.yaml)
#   billing:   billing-service-dapr-api-token, billing-service-app-api-token   (manifests/billing/namespace.yaml)
# each with the key "token" (the key Dapr's sidecar injector reads) holding a random 32-byte hex token from
# /dev/urandom. The token goes through a private temporary file (--from-file), never a command line or the output.
# Idempotent: a Secret that already exists is left alone. Run it before `kubectl apply -k manifests/`.
# To rotate a token: kubectl -n NAMESPACE delete secret NAME, run this again, then restart the app's Deployment, e.g.
#   kubectl -n todo-dapr rollout restart deployment/todo-api deployment/notification-service
#   kubectl -n billing rollout restart deployment/billing-service
# (the sidecar and the app read the token when their containers start).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=k8s-api-tokens
. "$ROOT/scripts/lib.sh"

# manifests/base/{todo-api,notification-service}.yaml and manifests/billing/billing-service.yaml:
# dapr.io/api-token-secret and dapr.io/app-token-secret, as namespace/name (tests/manifests/test_manifests.py checks
# that this list and the manifests agree).
SECRETS=(
  todo-dapr/todo-api-dapr-api-token
  todo-dapr/todo-api-app-api-token
  todo-dapr/notification-service-dapr-api-token
  todo-dapr/notification-service-app-api-token
  billing/billing-service-dapr-api-token
  billing/billing-service-app-api-token
)
# Where each namespace is defined, to create it when it is not there yet.
declare -A NAMESPACE_FILE=([todo-dapr]=manifests/base/namespace.yaml [billing]=manifests/billing/namespace.yaml)

command -v kubectl >/dev/null || die "needs kubectl, configured for the cluster to deploy to"

for namespace in "${!NAMESPACE_FILE[@]}"; do
  # --ignore-not-found: empty when it does not exist, an error (and exit) when the cluster cannot be asked.
  found=$(kubectl get namespace "$namespace" --ignore-not-found -o name) || die "kubectl cannot read namespace $namespace"
  if [ -z "$found" ]; then
    say "creating namespace $namespace from ${NAMESPACE_FILE[$namespace]}"
    kubectl apply -f "$ROOT/${NAMESPACE_FILE[$namespace]}" >/dev/null
  fi
done

SCRATCH=$(umask 077 && mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for secret in "${SECRETS[@]}"; do
  namespace=${secret%%/*} name=${secret#*/}
  found=$(kubectl -n "$namespace" get secret "$name" --ignore-not-found -o name) \
    || die "kubectl cannot read secret $name in $namespace"
  if [ -n "$found" ]; then
    say "secret $namespace/$name exists: left as it is"
    continue
  fi
  (umask 077 && od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$SCRATCH/token")
  [ "$(wc -c < "$SCRATCH/token")" -eq 64 ] || die "could not read 32 bytes from /dev/urandom"
  kubectl -n "$namespace" create secret generic "$name" --from-file=token="$SCRATCH/token" >/dev/null
  rm -f "$SCRATCH/token"
  kubectl -n "$namespace" label secret "$name" app.kubernetes.io/part-of=todo-dapr >/dev/null
  say "secret $namespace/$name created (key token, 32 random bytes as hex)"
done
