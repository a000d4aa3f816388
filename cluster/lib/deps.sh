#!/usr/bin/env bash
# Installs what the local cluster needs from Debian's archive, once. The node's
# container runtime, network plugins and the image builder are Debian packages;
# the Kubernetes binaries themselves are built by build.sh.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || die "the local cluster runs a kubelet and containerd, which need root"

# command → Debian package that provides it
declare -A NEED=(
  [containerd]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
  [catatonit]=catatonit [mmdebstrap]=mmdebstrap [bwrap]=bubblewrap [iptables]=iptables
  [conntrack]=conntrack [socat]=socat [ethtool]=ethtool [ip]=iproute2 [openssl]=openssl
  [python3]=python3 [curl]=curl
  # The harness's tests run the cases on the host, numpy and pandas included.
  [/usr/lib/python3/dist-packages/numpy]=python3-numpy [/usr/lib/python3/dist-packages/pandas]=python3-pandas
  # The playground's browser test (test/e2e/playground.test.ts) drives Chromium and Firefox headless.
  [chromium]=chromium [firefox-esr]=firefox-esr
)
missing=()
for cmd in "${!NEED[@]}"; do
  if [[ $cmd == /* ]]; then [ -e "$cmd" ] || missing+=("${NEED[$cmd]}")
  else command -v "$cmd" >/dev/null || missing+=("${NEED[$cmd]}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$CACHE_DIR"
  apt-get update -qq >"$CACHE_DIR/apt.log" 2>&1 || die "apt-get update failed; log: $CACHE_DIR/apt.log"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$CACHE_DIR/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed; log: $CACHE_DIR/apt.log"
fi
