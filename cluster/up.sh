#!/usr/bin/env bash
# Starts the local single-node Kubernetes cluster: containerd, etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy, as host processes with their logs under $STATE_DIR/logs.
# Idempotent: components already running are left alone.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

"$CLUSTER_SRC/lib/deps.sh"
"$CLUSTER_SRC/lib/build.sh"
B=$BIN_DIR
PKI=$STATE_DIR/pki
NODE_IP=${SCRIPTRUN_NODE_IP:-$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
[ -n "$NODE_IP" ] || NODE_IP=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
[ -n "$NODE_IP" ] || die "found no IPv4 address for the node; set SCRIPTRUN_NODE_IP"
mkdir -p "$LOG_DIR" "$RUN_DIR"
echo "$NODE_IP" >"$STATE_DIR/node-ip"

running() { local pid; pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

# start NAME PORT CMD...: start a component unless it runs; refuse a port held by someone else.
start() {
  local name=$1 port=$2; shift 2
  running "$name" && return 0
  if [ "$port" != - ] && ss -Htln "sport = :$port" | grep -q .; then
    die "port $port, which $name needs, is in use by another process ($(ss -Htlnp "sport = :$port" | sed 's/.*users://'))"
  fi
  log "Starting $name (log: $LOG_DIR/$name.log)"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

# alive NAME: fail fast, with its log, if a component exited right after start.
alive() { running "$1" || { tail -n 20 "$LOG_DIR/$1.log" >&2; die "$1 exited; log: $LOG_DIR/$1.log"; }; }

"$CLUSTER_SRC/lib/pki.sh" "$NODE_IP"
"$CLUSTER_SRC/lib/configs.sh" "$NODE_IP"
# Pods route through the node; the bridge must show their packets to iptables (Services).
echo 1 >/proc/sys/net/ipv4/ip_forward
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null \
  || die "the kernel has no br_netfilter; Services cannot work"
echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
# Traffic for the cluster's own addresses never leaves this machine: a packet to a Service IP that
# kube-proxy did not translate (no rule yet, no ready endpoint) or to a pod IP without the bridge
# would otherwise follow the default route to whatever answers at that address out there.
# filter OUTPUT and FORWARD see packets after kube-proxy's DNAT, so translated ones pass.
iptables -N SCRIPTRUN-GUARD 2>/dev/null || iptables -F SCRIPTRUN-GUARD
iptables -A SCRIPTRUN-GUARD -d $SERVICE_CIDR -j REJECT --reject-with icmp-net-unreachable
# (The bridge's own address is local, and is reached over lo.)
iptables -A SCRIPTRUN-GUARD -d $POD_CIDR ! -o cni0 -m addrtype ! --dst-type LOCAL -j REJECT --reject-with icmp-net-unreachable
for chain in OUTPUT FORWARD; do iptables -C $chain -j SCRIPTRUN-GUARD 2>/dev/null || iptables -I $chain -j SCRIPTRUN-GUARD; done

start containerd - containerd --config "$STATE_DIR/etc/containerd.toml"
start etcd 2379 "$B/etcd" --data-dir "$STATE_DIR/etcd" --name scriptrun \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster scriptrun=http://127.0.0.1:2380 --quota-backend-bytes 2147483648
wait_for containerd 30 "$LOG_DIR/containerd.log" test -S "$CONTAINERD_SOCK"
wait_for etcd 30 "$LOG_DIR/etcd.log" curl -fsS http://127.0.0.1:2379/health

start kube-apiserver $API_PORT "$B/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
  --bind-address 0.0.0.0 --secure-port $API_PORT --advertise-address "$NODE_IP" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" --service-cluster-ip-range $SERVICE_CIDR \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --profiling=false
K() { "$B/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
wait_for kube-apiserver 90 "$LOG_DIR/kube-apiserver.log" K get --raw /readyz

start kube-controller-manager 10257 "$B/kube-controller-manager" \
  --kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range $SERVICE_CIDR
start kube-scheduler 10259 "$B/kube-scheduler" --kubeconfig "$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
  --authorization-kubeconfig "$PKI/scheduler.kubeconfig" --bind-address 127.0.0.1 --leader-elect=false
# The apiserver reaches kubelets (logs, exec) with this identity.
K create clusterrolebinding scriptrun:apiserver-kubelet-api --clusterrole system:kubelet-api-admin \
  --user kube-apiserver-kubelet-client --dry-run=client -o yaml | K apply -f - >/dev/null

"$CLUSTER_SRC/build-image.sh" "$CLUSTER_SRC/images/pause.env"
start kubelet 10250 "$B/kubelet" --config "$STATE_DIR/etc/kubelet.yaml" \
  --kubeconfig "$PKI/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
  --root-dir "$STATE_DIR/kubelet" --cert-dir "$STATE_DIR/kubelet/pki"
start kube-proxy 10256 "$B/kube-proxy" --config "$STATE_DIR/etc/kube-proxy.yaml"
for c in kube-controller-manager kube-scheduler kubelet kube-proxy; do sleep 0.2; alive $c; done

wait_for "node $NODE_NAME Ready" 120 "$LOG_DIR/kubelet.log" \
  K wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
# Pods in a namespace need its default ServiceAccount, made by the controller-manager.
wait_for "the default ServiceAccount" 60 "$LOG_DIR/kube-controller-manager.log" K get serviceaccount default
log "Cluster ready. export KUBECONFIG=$KUBECONFIG_PATH"
