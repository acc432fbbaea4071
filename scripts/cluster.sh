#!/usr/bin/env bash
# A one-node Kubernetes v1.34.4 cluster on this machine, built from source (scripts/setup-kubernetes.sh).
#
# WORK IN PROGRESS (issue "kubectl apply for real"). What it does today: the control plane only, on 127.0.0.1:
# etcd v3.6.16, kube-apiserver (client-certificate authentication, RBAC and Node authorization, PodSecurity
# admission), kube-controller-manager and kube-scheduler, with a PKI made here by openssl. Not yet: the node (a CRI
# containerd, the kubelet, CNI bridge, kube-proxy, CoreDNS), Dapr from its Helm chart, the images. It is not part of
# the test command yet.
#
#   scripts/cluster.sh up       build what is missing, start the control plane, wait until /readyz answers
#   scripts/cluster.sh status   the processes and the API server's readiness
#   scripts/cluster.sh down     stop every process it started and delete the cluster folder (the builds stay cached)
#
# Environment: CLUSTER_DIR (default .cluster: PKI, kubeconfigs, etcd data, logs, PIDs). Then:
#   export KUBECONFIG=$PWD/.cluster/admin.kubeconfig; kubectl get --raw /readyz
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRIPT_NAME=cluster
. "$ROOT/scripts/lib.sh"

CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/.cluster}
PKI=$CLUSTER_DIR/pki
LOGS=$CLUSTER_DIR/logs
PROCESSES=$CLUSTER_DIR/processes
# Below the ephemeral port range (net.ipv4.ip_local_port_range), like every port of scripts/run.sh.
ETCD_PORT=22379
ETCD_PEER_PORT=22380
API_PORT=6443
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1
POD_CIDR=10.244.0.0/16

alive() { kill -0 "$1" 2>/dev/null; }

down() {
  if [ -f "$PROCESSES" ]; then
    local pids=()
    while read -r _ pid; do alive "$pid" && { kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); }; done < "$PROCESSES"
    for _ in $(seq 1 100); do
      local left=0
      for pid in "${pids[@]}"; do alive "$pid" && left=1; done
      [ $left -eq 0 ] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null || true; done
  fi
  rm -rf "$CLUSTER_DIR"
  say "down: every process stopped, $CLUSTER_DIR deleted"
}

status() {
  [ -f "$PROCESSES" ] || { say "not running"; return 1; }
  local bad=0
  while read -r name pid; do
    if alive "$pid"; then echo "$name $pid up"; else echo "$name $pid DOWN"; bad=1; fi
  done < "$PROCESSES"
  KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig "$KUBECTL" get --raw /readyz >/dev/null 2>&1 \
    && echo "kube-apiserver https://127.0.0.1:$API_PORT ready" || { echo "kube-apiserver not ready"; bad=1; }
  return $bad
}

# The binaries, built once and cached.
declare -A BIN
while read -r name path; do BIN[$name]=$path; done < <("$ROOT/scripts/setup-kubernetes.sh")
KUBECTL=${BIN[kubectl]}

case "${1:-}" in
  down) down; exit 0 ;;
  status) status; exit $? ;;
  up) ;;
  *) die "usage: scripts/cluster.sh up|status|down" ;;
esac

if [ -f "$PROCESSES" ]; then
  while read -r _ pid; do alive "$pid" && die "already up (scripts/cluster.sh status); scripts/cluster.sh down first"; done < "$PROCESSES"
fi
command -v openssl >/dev/null || apt_install openssl
mkdir -p "$PKI" "$LOGS"
chmod 700 "$CLUSTER_DIR" "$PKI"
: > "$PROCESSES"
UP=0
trap '[ $UP -eq 1 ] || { say "up failed; stopping what was started (logs: $LOGS)"; for f in "$LOGS"/*.log; do echo "--- $f"; tail -n 5 "$f"; done >&2; down; }' EXIT

# 1. The PKI: one CA; the API server's serving certificate; client certificates for the admin (system:masters), the
# controller manager, the scheduler and the API server's calls to kubelets; the service-account signing key.
started=$(date +%s)
(umask 077
 openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=todo-dapr-cluster-ca" \
   -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
 cert() { # name subject [extensions]
   openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
   printf '%s\n' "${3:-extendedKeyUsage=clientAuth}" > "$PKI/$1.ext"
   openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
     -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
   rm -f "$PKI/$1.csr" "$PKI/$1.ext"
 }
 cert apiserver "/CN=kube-apiserver" "$(printf '%s\n%s' 'extendedKeyUsage=serverAuth' \
   "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$SERVICE_API_IP")"
 cert admin "/O=system:masters/CN=admin"
 cert controller-manager "/CN=system:kube-controller-manager"
 cert scheduler "/CN=system:kube-scheduler"
 cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
 openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
 openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null)
for who in admin controller-manager scheduler; do
  config=$CLUSTER_DIR/$who.kubeconfig
  "$KUBECTL" config --kubeconfig "$config" set-cluster todo-dapr --server "https://127.0.0.1:$API_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig "$config" set-credentials "$who" --client-certificate "$PKI/$who.crt" \
    --client-key "$PKI/$who.key" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig "$config" set-context todo-dapr --cluster todo-dapr --user "$who" >/dev/null
  "$KUBECTL" config --kubeconfig "$config" use-context todo-dapr >/dev/null
  chmod 600 "$config"
done
say "PKI and kubeconfigs in $CLUSTER_DIR ($(( $(date +%s) - started )) s)"

start() { # name command...
  local name=$1
  shift
  nohup "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$PROCESSES"
}

# 2. etcd, on loopback only: plain HTTP, reached by the API server alone.
start etcd "${BIN[etcd]}" --name todo-dapr --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "todo-dapr=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:22381"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || die "etcd did not become healthy"

# 3. The API server: client certificates, Node and RBAC authorization, PodSecurity admission (on by default).
start kube-apiserver "${BIN[kube-apiserver]}" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$API_PORT" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged=false \
  --kubelet-preferred-address-types InternalIP
export KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig
for _ in $(seq 1 300); do "$KUBECTL" get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
"$KUBECTL" get --raw /readyz >/dev/null || die "kube-apiserver not ready after 30 s"
say "kube-apiserver ready at https://127.0.0.1:$API_PORT ($(( $(date +%s) - started )) s)"

# 4. The controller manager (ServiceAccounts, ReplicaSets, node CIDRs for the bridge) and the scheduler.
start kube-controller-manager "${BIN[kube-controller-manager]}" --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --service-cluster-ip-range "$SERVICE_CIDR"
start kube-scheduler "${BIN[kube-scheduler]}" --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false
for _ in $(seq 1 300); do
  "$KUBECTL" -n default get serviceaccount default >/dev/null 2>&1 && break
  sleep 0.1
done
"$KUBECTL" -n default get serviceaccount default >/dev/null || die "the controller manager made no default ServiceAccount in 30 s"
UP=1
say "control plane up in $(( $(date +%s) - started )) s; export KUBECONFIG=$KUBECONFIG"
status
