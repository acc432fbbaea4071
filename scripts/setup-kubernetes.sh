#!/usr/bin/env bash
# Gives the binaries of a one-node Kubernetes v1.34.4 cluster, etcd v3.6.16, CoreDNS v1.12.1 and Helm v3.19.5, each
# built once from the Go module proxy (tools/kubernetes, tools/etcd, tools/coredns, tools/helm) and cached by version
# and sources in $DAPR_CACHE_DIR (default ~/.cache/todo-dapr); no prebuilt binary is downloaded. Prints "name path" for each, one a line:
#   scripts/setup-kubernetes.sh            all of kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#                                          kube-proxy, kubectl, etcd, coredns, helm
#   scripts/setup-kubernetes.sh kubectl    just those named
# First time on 2 cores: kube-apiserver about 5 minutes, each of the others about a minute or two.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=setup-kubernetes
. "$ROOT/scripts/lib.sh"

K8S_VERSION=1.34.4
K8S_COMMIT=0000000000000000000000000000000000000000 # the module proxy serves no commit; `kubectl version` shows the tag
ETCD_VERSION=3.6.16
COREDNS_VERSION=1.12.1
HELM_VERSION=3.19.5
ALL=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd coredns helm)
[ $# -gt 0 ] || set -- "${ALL[@]}"

# What `kubectl version` and the API server's /version report (k8s.io/component-base/version, as Kubernetes's own
# build sets it); without it they say v0.0.0 and kubectl refuses to talk to the server.
k8s_ldflags() {
  local v
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=v%s -X %s.gitMajor=1 -X %s.gitMinor=34 -X %s.gitCommit=%s -X %s.gitTreeState=clean ' \
      "$v" "$K8S_VERSION" "$v" "$v" "$v" "$K8S_COMMIT" "$v"
  done
  printf -- '-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z'
}

started=$(date +%s)
for name in "$@"; do
  t=$(date +%s)
  case "$name" in
    etcd)
      bin=$(build_go_tool etcd "$ROOT/tools/etcd" "$ETCD_VERSION" "about a minute on 2 cores" \
        "-X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION" go.etcd.io/etcd/server/v3) ;;
    helm)
      bin=$(build_go_tool helm "$ROOT/tools/helm" "$HELM_VERSION" "a minute or two on 2 cores" \
        "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
        helm.sh/helm/v3/cmd/helm) ;;
    coredns)
      bin=$(build_go_tool coredns "$ROOT/tools/coredns" "$COREDNS_VERSION" "about a minute on 2 cores") ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
      bin=$(build_go_tool "$name" "$ROOT/tools/kubernetes" "$K8S_VERSION" \
        "$( [ "$name" = kube-apiserver ] && echo "about 5 minutes" || echo "a minute or two") on 2 cores" \
        "$(k8s_ldflags)" "k8s.io/kubernetes/cmd/$name") ;;
    *) die "unknown binary '$name' (one of: ${ALL[*]})" ;;
  esac
  say "$name: $bin ($(( $(date +%s) - t )) s)"
  echo "$name $bin"
done
say "all in $(( $(date +%s) - started )) s"
