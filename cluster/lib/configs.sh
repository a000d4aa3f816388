#!/usr/bin/env bash
# Writes the configuration files of containerd, the CNI bridge, the kubelet and
# kube-proxy into the state directory.
set -euo pipefail
. "$(dirname "$0")/common.sh"
NODE_IP=$1
PKI=$STATE_DIR/pki
mkdir -p "$STATE_DIR/etc" "$STATE_DIR/cni/net.d" "$RUN_DIR/containerd"

# write FILE: stdin becomes FILE, replaced whole and only when it differs. make up runs while the
# components run: kube-proxy exits when its configuration file changes, and a rewrite in place
# shows it an empty or half-written file first.
write() {
  local tmp="$1.new"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

write "$STATE_DIR/etc/containerd.toml" <<TOML
version = 2
root = "$STATE_DIR/containerd/root"
state = "$RUN_DIR/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$RUN_DIR/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # Built locally (images/pause.env); no registry is reachable.
  sandbox_image = "localhost/scriptrun/pause:catatonit"
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which this host
  # (itself sandboxed) denies even to root; runc would fail every pod sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      # No systemd runs here: the kubelet and runc share the cgroupfs driver.
      SystemdCgroup = false
TOML

write "$STATE_DIR/cni/net.d/10-scriptrun.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "scriptrun",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$STATE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

write "$STATE_DIR/etc/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
# This kernel mounts cgroup v1; 1.34 still runs on it when asked.
failCgroupV1: false
failSwapOn: false
readOnlyPort: 0
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# A fork bomb inside a pod must not exhaust the node (the sandbox has its own, lower cap).
podPidsLimit: 4096
# A developer's disk is often fuller than a server's; evict only when it is really full.
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
YAML

write "$STATE_DIR/etc/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0}
YAML
