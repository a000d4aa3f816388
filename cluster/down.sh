#!/usr/bin/env bash
# Stops the local cluster and removes what it left on the host: processes
# (components, containerd shims, containers), mounts, network namespaces, the
# CNI bridge, iptables rules, and the state directory. Caches under ~/.cache stay.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

stop() { # stop NAME: SIGTERM, then SIGKILL after 10 s
  local pid
  pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

# The kubelet first, so it does not restart what is being torn down.
stop kubelet
if [ -S "$CONTAINERD_SOCK" ]; then
  ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
  for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true; done
  sleep 1
fi
for c in kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop $c; done
# Shims outlive containerd by design; ours are the ones pointing at our socket.
# Anything else started from our binaries or state (a component whose pid file
# was lost) goes too.
pkill -9 -f "containerd-shim.*-address $CONTAINERD_SOCK" 2>/dev/null || true
pkill -9 -f "^($BIN_DIR/|containerd --config $STATE_DIR)" 2>/dev/null || true

# Mounts: pod volumes, container rootfs and network namespaces, deepest first.
for _ in 1 2 3; do
  mounts=$(awk -v d="$STATE_DIR" -v r=/run/netns/cni- -v v=/var/run/netns/cni- \
    'index($2, d) == 1 || index($2, r) == 1 || index($2, v) == 1 {print $2}' /proc/self/mounts | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
done
rm -f /run/netns/cni-* 2>/dev/null || true

ip link delete cni0 2>/dev/null || true
# kube-proxy's, the CNI plugins' and our own guard's chains; other rules on the host are kept.
for t in nat filter mangle; do
  if iptables-save -t $t 2>/dev/null | grep -qE 'KUBE-|CNI-|SCRIPTRUN-'; then
    iptables-save -t $t | grep -vE 'KUBE-|CNI-|SCRIPTRUN-' | iptables-restore -T $t
  fi
done

rm -rf "$STATE_DIR"
log "Cluster stopped; no component runs and $STATE_DIR is gone."
