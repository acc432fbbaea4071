#!/usr/bin/env bash
# A one-node Kubernetes v1.34.4 cluster on this machine, built from source (scripts/setup-kubernetes.sh).
#
# What it makes:
# - the control plane: etcd v3.6.16 on 127.0.0.1, kube-apiserver on the node's bridge address 10.244.0.1 (client
#   certificates, RBAC and Node authorization, PodSecurity admission), kube-controller-manager and kube-scheduler, with
#   a PKI made here by openssl;
# - one node: a containerd of its own (Debian's, CRI on its own socket and root) and the kubelet, both in one private
#   mount namespace where regular files stand over the three sysctls the kubelet would set (it runs with
#   protectKernelDefaults and only reads them): the host's kernel settings are never changed, and `up` checks it. Pods
#   get addresses on the bridge todok8s0 (10.244.0.0/24, the node is 10.244.0.1) through Debian's CNI plugins, without
#   masquerading; a chain of its own (TODO-DAPR-FWD) lets pods reach each other and the node, and nothing beyond. The
#   pause image is built here from Kubernetes's pause.c;
# - kube-proxy (iptables), with flags that keep it from writing any sysctl; Service addresses (10.96.0.0/16) are routed
#   to the bridge, so the host reaches ClusterIPs too.
# - CoreDNS (tools/coredns) on 10.244.0.1:53 for cluster.local, forwarding nothing.
# - Dapr 1.18.3 from its Helm chart on images built here, the project's images loaded in the node, and a volume for
#   Redis. Then a user's steps work: scripts/k8s-api-tokens.sh; kubectl apply -k manifests/overlays/local.
# The test command's layer 6 (e2e-tests ClusterK8s, mvn -Pcluster) starts it, deploys on it as a user does, tests it
# and takes it down. docs/notes/k8s-one-node-cluster.md has the design and its sources.
#
#   scripts/cluster.sh up       build what is missing, start the control plane, wait until /readyz answers
#   scripts/cluster.sh status   the processes and the API server's readiness
#   scripts/cluster.sh down     stop every process it started, delete the pods' containers, mounts, cgroups, the bridge,
#                               the iptables chains and the cluster folders (the builds and images stay cached)
#
# Environment: CLUSTER_DIR (default .cluster: PKI, kubeconfigs, etcd data, logs, PIDs). Then:
#   export KUBECONFIG=$PWD/.cluster/admin.kubeconfig; kubectl get nodes
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
NODE_NAME=todo-dapr-node
BRIDGE=todok8s0
NODE_IP=10.244.0.1
POD_SUBNET=10.244.0.0/24
FWD_CHAIN=TODO-DAPR-FWD
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
# containerd and the kubelet need host paths (overlayfs snapshots, pod mounts); every one of them is under these two.
NODE_STATE=/var/lib/todo-dapr-k8s
NODE_RUN=/run/todo-dapr-k8s
CONTAINERD_SOCK=$NODE_RUN/containerd/containerd.sock
# What the kubelet would write (k8s.io/component-helpers node/util/sysctl), shadowed in the node's mount namespace.
SHADOWED_SYSCTLS="vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1"

alive() { kill -0 "$1" 2>/dev/null; }

pid_of() { [ -f "$PROCESSES" ] && awk -v n="$1" '$1 == n {print $2}' "$PROCESSES" | tail -n 1; }

# The node, in the reverse order of `up`: the kubelet (it leaves pods running when it stops), the pods' containers,
# containerd, and the mount namespace holder, whose end takes every mount of the node with it.
node_down() {
  local holder kubelet pid
  holder=$(pid_of node-namespace)
  kubelet=$(pid_of kubelet)
  if [ -n "$kubelet" ] && alive "$kubelet"; then
    kill -TERM "$kubelet"
    for _ in $(seq 1 50); do alive "$kubelet" || break; sleep 0.1; done
  fi
  if [ -n "$holder" ] && alive "$holder" && [ -S "$CONTAINERD_SOCK" ]; then
    local ctr=(nsenter -t "$holder" -m -- ctr --address "$CONTAINERD_SOCK" -n k8s.io)
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true; done
    sleep 0.5
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true; done
    for container in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers delete "$container" >/dev/null 2>&1 || true; done
  fi
  for name in containerd node-namespace; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && alive "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  # Shims of our containerd that outlived it (they are found by our socket path in their command line).
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  # kube-proxy's rules and chains (both families), the kubelet's, then ours.
  pid=$(pid_of kube-proxy)
  if [ -n "$pid" ] && alive "$pid"; then kill -TERM "$pid"; for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done; fi
  local proxy
  proxy=$(ls "${DAPR_CACHE_DIR:-$HOME/.cache/todo-dapr}"/kube-proxy-*/kube-proxy 2>/dev/null | head -n 1)
  [ -z "$proxy" ] || "$proxy" --cleanup >/dev/null 2>&1 || true
  local family table chain
  for family in iptables ip6tables; do
    command -v "$family" >/dev/null || continue
    "$family" -t filter -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$family" -t filter -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
    for table_chain in filter/KUBE-FIREWALL mangle/KUBE-IPTABLES-HINT mangle/KUBE-KUBELET-CANARY nat/KUBE-KUBELET-CANARY \
        filter/KUBE-KUBELET-CANARY; do
      table=${table_chain%/*}
      chain=${table_chain#*/}
      "$family" -t "$table" -F "$chain" 2>/dev/null && "$family" -t "$table" -X "$chain" 2>/dev/null || true
    done
    while "$family" -D FORWARD -j "$FWD_CHAIN" 2>/dev/null; do :; done
    "$family" -F "$FWD_CHAIN" 2>/dev/null && "$family" -X "$FWD_CHAIN" 2>/dev/null || true
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$hierarchy" ] && find "$hierarchy" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  # The kubelet's /var/log/containers links into our pod logs, and libcni's result cache (its loopback results carry
  # no network name): the folder goes when `up` made it, else only our network's entries.
  local link
  for link in /var/log/containers/*.log; do
    [ -L "$link" ] && case "$(readlink "$link")" in "$NODE_STATE"/*) rm -f "$link" ;; esac
  done
  rmdir /var/log/containers 2>/dev/null || true
  if [ -f "$NODE_STATE/made-var-lib-cni" ]; then
    rm -rf /var/lib/cni
  else
    rm -f /var/lib/cni/results/todo-dapr-k8s-*
  fi
  rm -rf "$NODE_STATE" "$NODE_RUN"
}

down() {
  node_down
  # shellcheck disable=SC2046 # one PID a word
  [ ! -f "$PROCESSES" ] || stop_pids $(awk '{print $2}' "$PROCESSES")
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
    && echo "kube-apiserver https://$NODE_IP:$API_PORT ready" || { echo "kube-apiserver not ready"; bad=1; }
  local ready
  ready=$(KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig "$KUBECTL" get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$ready" = True ] && echo "node $NODE_NAME Ready" || { echo "node $NODE_NAME not Ready"; bad=1; }
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
# Another cluster of this script (another CLUSTER_DIR) holds the bridge and the node's folders: stop here, before the
# trap below, whose clean-up would take that cluster's bridge and chains down with it.
ip link show "$BRIDGE" >/dev/null 2>&1 && die "the bridge $BRIDGE exists: another cluster is up (scripts/cluster.sh down with its CLUSTER_DIR first)"
[ -S "$CONTAINERD_SOCK" ] && die "$CONTAINERD_SOCK exists: another cluster's node is up (scripts/cluster.sh down with its CLUSTER_DIR first)"
command -v openssl >/dev/null || apt_install openssl
mkdir -p "$PKI" "$LOGS"
chmod 700 "$CLUSTER_DIR" "$PKI"
: > "$PROCESSES"
UP=0
trap '[ $UP -eq 1 ] || { say "up failed; stopping what was started (logs: $LOGS)"; for f in "$LOGS"/*.log; do echo "--- $f"; tail -n 5 "$f"; done >&2; down; }' EXIT

# 1. The host's side of the node, first: the API server listens on the bridge's address. The node's tools: Debian's
# containerd and runc (docker.io brings them), CNI plugins, gcc for the pause image.
[ "$(id -u)" -eq 0 ] || die "the node needs root (containerd, the kubelet, a bridge, iptables)"
command -v containerd >/dev/null && command -v runc >/dev/null || apt_install containerd runc
[ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
command -v gcc >/dev/null || apt_install gcc libc6-dev
command -v iptables >/dev/null || apt_install iptables
"$ROOT/scripts/start-docker.sh" >/dev/null
# The first A record CoreDNS gives for $1, asked with Python's stub resolver pointed at the node (no dig here).
dns_answer() {
  python3 - "$1" "$NODE_IP" <<'PY' 2>/dev/null || true
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
query = struct.pack(">HHHHHH", 0x7d7d, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(query, (server, 53))
data = s.recv(512)
if struct.unpack(">H", data[6:8])[0]:
    print(socket.inet_ntoa(data[-4:]))
PY
}
sysctls_now() { local s; for s in $SHADOWED_SYSCTLS; do printf '%s=%s ' "${s%%=*}" "$(cat "/proc/sys/${s%%=*}")"; done; }
SYSCTLS_BEFORE=$(sysctls_now)

# The bridge, with the node's address (the API server's, the kubelet's and later DNS's); pods may talk to each other
# and to the node, and nothing crosses to eth0. Service addresses are routed to the bridge, so that the host's own
# calls to a ClusterIP (the API server calling a webhook) take kube-proxy's rules, never the default route.
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
for family in iptables ip6tables; do
  "$family" -N "$FWD_CHAIN"
  "$family" -A "$FWD_CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  "$family" -A "$FWD_CHAIN" -i "$BRIDGE" -j DROP
  "$family" -A "$FWD_CHAIN" -o "$BRIDGE" -j DROP
  "$family" -I FORWARD 1 -j "$FWD_CHAIN"
done
mkdir -p "$NODE_STATE/cni/net.d" "$NODE_RUN/containerd" "$CLUSTER_DIR/node/sysctl"
[ -e /var/lib/cni ] || touch "$NODE_STATE/made-var-lib-cni" # libcni caches results there; `down` removes what it made

# 2. The PKI: one CA; the API server's serving certificate; client certificates for the admin (system:masters), the
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
   "subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_API_IP")"
 cert admin "/O=system:masters/CN=admin"
 cert controller-manager "/CN=system:kube-controller-manager"
 cert scheduler "/CN=system:kube-scheduler"
 cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
 cert kube-proxy "/CN=system:kube-proxy"
 cert coredns "/CN=todo-dapr:coredns"
 openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
 openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null)
kubeconfig_for() { # who: $CLUSTER_DIR/<who>.kubeconfig with the client certificate $PKI/<who>.crt
  local who=$1 config=$CLUSTER_DIR/$1.kubeconfig
  "$KUBECTL" config --kubeconfig "$config" set-cluster todo-dapr --server "https://$NODE_IP:$API_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig "$config" set-credentials "$who" --client-certificate "$PKI/$who.crt" \
    --client-key "$PKI/$who.key" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig "$config" set-context todo-dapr --cluster todo-dapr --user "$who" >/dev/null
  "$KUBECTL" config --kubeconfig "$config" use-context todo-dapr >/dev/null
  chmod 600 "$config"
}
for who in admin controller-manager scheduler kube-proxy coredns; do kubeconfig_for "$who"; done
say "PKI and kubeconfigs in $CLUSTER_DIR ($(( $(date +%s) - started )) s)"

start() { # name command...
  local name=$1
  shift
  nohup "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$PROCESSES"
}

# 3. etcd, on loopback only: plain HTTP, reached by the API server alone.
start etcd "${BIN[etcd]}" --name todo-dapr --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "todo-dapr=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:22381"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || die "etcd did not become healthy"

# 4. The API server, on the bridge's address (pods reach it through the kubernetes Service): client certificates,
# Node and RBAC authorization, PodSecurity admission (on by default).
start kube-apiserver "${BIN[kube-apiserver]}" --bind-address "$NODE_IP" --advertise-address "$NODE_IP" \
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
say "kube-apiserver ready at https://$NODE_IP:$API_PORT ($(( $(date +%s) - started )) s)"

# 5. The controller manager (ServiceAccounts, ReplicaSets, node CIDRs for the bridge) and the scheduler.
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
say "control plane up in $(( $(date +%s) - started )) s"

cat > "$NODE_STATE/cni/net.d/10-todo-dapr.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "todo-dapr-k8s",
  "plugins": [ { "type": "bridge", "bridge": "$BRIDGE", "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
                 "ipam": { "type": "host-local", "dataDir": "$NODE_STATE/cni/networks",
                           "ranges": [[{ "subnet": "$POD_SUBNET", "gateway": "$NODE_IP" }]] } } ] }
JSON

# 6. The node. The pause image, from Kubernetes's own pause.c (no registry to pull it from).
if ! docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
  pause_src=$(cd /tmp && GOFLAGS= go mod download -json k8s.io/kubernetes@v1.34.4 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c
  context=$(mktemp -d)
  gcc -Os -Wall -Werror -static -DVERSION=v3.10.1-todo-dapr -o "$context/pause" "$pause_src"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$context/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE_IMAGE" "$context" > /dev/null 2>&1
  rm -rf "$context"
fi

# The node's mount namespace: private, with regular files over the sysctls the kubelet would write.
binds=""
for s in $SHADOWED_SYSCTLS; do
  file=$CLUSTER_DIR/node/sysctl/${s%%=*}
  mkdir -p "$(dirname "$file")"
  echo "${s#*=}" > "$file"
  binds="$binds && mount --bind $file /proc/sys/${s%%=*}"
done
start node-namespace unshare -m --propagation private -- sh -c "mount --make-rshared / $binds && exec sleep infinity"
holder=$(pid_of node-namespace)
for _ in $(seq 1 50); do
  [ "$(nsenter -t "$holder" -m cat /proc/sys/kernel/panic 2>/dev/null)" = 10 ] && break
  sleep 0.1
done
[ "$(nsenter -t "$holder" -m cat /proc/sys/kernel/panic)" = 10 ] || die "the node's mount namespace did not come up"
in_node() { nsenter -t "$holder" -m -- "$@"; }

cat > "$CLUSTER_DIR/node/containerd.toml" <<TOML
version = 2
root = "$NODE_STATE/containerd"
state = "$NODE_RUN/containerd"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_STATE/cni/net.d"
    max_conf_num = 1
TOML
start containerd nsenter -t "$holder" -m -- containerd --config "$CLUSTER_DIR/node/containerd.toml"
for _ in $(seq 1 100); do in_node ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
in_node ctr --address "$CONTAINERD_SOCK" version >/dev/null || die "containerd did not answer on $CONTAINERD_SOCK"
docker save "$PAUSE_IMAGE" | in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null

# The kubelet: its client certificate (system:node:<name>), and a configuration that writes no sysctl.
(umask 077
 openssl req -newkey rsa:2048 -nodes -subj "/O=system:nodes/CN=system:node:$NODE_NAME" -keyout "$PKI/kubelet.key" \
   -out "$PKI/kubelet.csr" 2>/dev/null
 printf 'extendedKeyUsage=clientAuth\n' > "$PKI/kubelet.ext"
 openssl x509 -req -in "$PKI/kubelet.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 365 \
   -extfile "$PKI/kubelet.ext" -out "$PKI/kubelet.crt" 2>/dev/null
 rm -f "$PKI/kubelet.csr" "$PKI/kubelet.ext")
kubeconfig_for kubelet
cat > "$CLUSTER_DIR/node/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
failCgroupV1: false
# Reads the shadowed sysctls and refuses to start if they differ; never writes them.
protectKernelDefaults: true
oomScoreAdj: 0
resolvConf: ""
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
podLogsDir: $NODE_STATE/pod-logs
# Images cannot be pulled again here: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
start kubelet nsenter -t "$holder" -m -- "${BIN[kubelet]}" --config "$CLUSTER_DIR/node/kubelet.yaml" \
  --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$NODE_STATE/kubelet" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
for _ in $(seq 1 600); do
  [ "$("$KUBECTL" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
  sleep 0.1
done
[ "$("$KUBECTL" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] \
  || die "node $NODE_NAME not Ready after 60 s"
# 7. kube-proxy (iptables mode, in the host's namespaces): Services. Its flags keep it from writing any sysctl (the
# conntrack limits and timeouts, route_localnet), so NodePorts answer on the bridge's address only, never 127.0.0.1.
start kube-proxy "${BIN[kube-proxy]}" --kubeconfig "$CLUSTER_DIR/kube-proxy.kubeconfig" --hostname-override "$NODE_NAME" \
  --proxy-mode iptables --cluster-cidr "$POD_SUBNET" --nodeport-addresses "$NODE_IP/32" \
  --iptables-localhost-nodeports=false --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
  --conntrack-tcp-timeout-close-wait 0 --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address 127.0.0.1:10249 \
  --oom-score-adj 0
# (grep -c, not grep -q: with pipefail, grep -q's early exit fails the pipeline when iptables is still writing)
proxied() { [ "$(iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -c "$SERVICE_API_IP/32")" -gt 0 ]; }
for _ in $(seq 1 100); do proxied && break; sleep 0.1; done
proxied || die "kube-proxy wrote no rule for the kubernetes Service"
# 8. CoreDNS (tools/coredns: five plugins, no forward) on the node's address, port 53: the cluster's DNS (clusterDNS of
# the kubelet), answering cluster.local from the API and nothing else, so no pod resolves a name off this machine.
"$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "todo-dapr:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "todo-dapr:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "todo-dapr:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "todo-dapr:coredns"}]
YAML
cat > "$CLUSTER_DIR/node/Corefile" <<COREFILE
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $CLUSTER_DIR/coredns.kubeconfig todo-dapr
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loadbalance
}
COREFILE
start coredns "${BIN[coredns]}" -conf "$CLUSTER_DIR/node/Corefile"
for _ in $(seq 1 100); do [ -n "$(dns_answer kubernetes.default.svc.cluster.local)" ] && break; sleep 0.1; done
[ "$(dns_answer kubernetes.default.svc.cluster.local)" = "$SERVICE_API_IP" ] \
  || die "CoreDNS does not answer kubernetes.default.svc.cluster.local with $SERVICE_API_IP"
# 9. Dapr 1.18.3 from its own Helm chart (charts/dapr of the github.com/dapr/dapr module), on images built here:
# local/daprd and local/sentry (scripts/build-images.sh, which also builds the app images), and the operator, the
# injector, placement and the scheduler (docker/dapr-control-plane.Dockerfile). mTLS is on (the chart's default);
# the injected daprd drops every capability, as the namespace's "restricted" Pod Security Standard demands; nothing
# is pulled (pull policy Never). The scheduler keeps its data in memory: no volume to provision on this node.
if [ "${CLUSTER_DAPR:-1}" = 1 ]; then
  "$ROOT/scripts/build-images.sh" >/dev/null
  for name in operator injector placement scheduler; do
    context=$(mktemp -d)
    cp "$("$ROOT/scripts/setup-daprd.sh" "$name" | tail -n 1)" "$context/$name"
    DOCKER_BUILDKIT=0 docker build -q --build-arg BINARY="$name" -t "local/$name:1.18.3" \
      -f "$ROOT/docker/dapr-control-plane.Dockerfile" "$context" >/dev/null
    rm -rf "$context"
  done
  images=(local/daprd:1.18.3 local/sentry:1.18.3 local/operator:1.18.3 local/injector:1.18.3 local/placement:1.18.3
    local/scheduler:1.18.3)
  docker save "${images[@]}" | in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
  say "Dapr's images in the node's containerd: ${images[*]}"
  dapr_module=$(cd /tmp && GOFLAGS= go mod download -json github.com/dapr/dapr@v1.18.3 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  chart=$CLUSTER_DIR/dapr-chart
  cp -r "$dapr_module/charts/dapr" "$chart"
  chmod -R u+w "$chart"
  "${BIN[helm]}" install dapr "$chart" --namespace dapr-system --create-namespace --wait --timeout 5m \
    --set global.registry=docker.io/local --set global.tag=1.18.3 --set global.imagePullPolicy=Never \
    --set dapr_sidecar_injector.sidecarImagePullPolicy=Never \
    --set dapr_sidecar_injector.sidecarDropALLCapabilities=true \
    --set dapr_scheduler.cluster.inMemoryStorage=true > "$LOGS/helm-install.log" 2>&1 \
    || { "$KUBECTL" -n dapr-system get pods -o wide >&2; die "helm install of Dapr failed; see $LOGS/helm-install.log"; }
  say "Dapr 1.18.3 installed: $("$KUBECTL" -n dapr-system get pods --no-headers | awk '{print $1 " " $2 " " $3}' | tr '\n' ';')"
fi

# 10. What manifests/ needs from the node and nothing provides here: the images scripts/build-images.sh built (there
# is no registry), and a volume for Redis's claim (there is no storage provisioner): a hostPath PersistentVolume bound
# to todo-dapr/redis-data, owned by Redis's UID 999. Then: scripts/k8s-api-tokens.sh; kubectl apply -k
# manifests/overlays/local (manifests/ with the local image names).
if [ "${CLUSTER_DAPR:-1}" = 1 ]; then
  version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$ROOT/pom.xml" | head -n 1)
  app_images=("todo-api:$version" "notification-service:$version" "billing-service:$version" local/redis:7.0 local/k6:2.1.0 local/zipkin:3.5.1)
  docker save "${app_images[@]}" | in_node ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
  install -d -o 999 -g 999 -m 0700 "$NODE_STATE/volumes/redis-data"
  "$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: todo-dapr-redis-data}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: todo-dapr, name: redis-data}
  hostPath: {path: $NODE_STATE/volumes/redis-data, type: Directory}
YAML
  say "images ${app_images[*]} in the node; PersistentVolume for todo-dapr/redis-data"
fi
[ "$(sysctls_now)" = "$SYSCTLS_BEFORE" ] || die "the host's sysctls changed: $SYSCTLS_BEFORE -> $(sysctls_now)"
say "node $NODE_NAME Ready ($NODE_IP, containerd $(containerd --version | awk '{print $3}')); host sysctls unchanged: $SYSCTLS_BEFORE"
UP=1
say "cluster up in $(( $(date +%s) - started )) s; export KUBECONFIG=$KUBECONFIG"
status
