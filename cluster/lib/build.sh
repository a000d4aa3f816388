#!/usr/bin/env bash
# Builds the cluster's binaries from their upstream Go modules (pinned in
# cluster/go/*/go.mod) into a cache keyed by version. A second run is a no-op.
# `build.sh helm` builds only helm and prints its path: the chart's tests render the chart with it
# on a machine that has no cluster yet (test/chart.test.ts).
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v go >/dev/null || die "go is not installed; the cluster binaries are built with it"

K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)

# The release ldflags of each module: what the binaries say of their own version.
ldflags() {
  local ld="-s -w" v
  case $1 in
    k8s)
      for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$K8S_MINOR -X $v.gitTreeState=clean"
      done ;;
    helm)
      ld+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
      ld+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      # Without these helm assumes Kubernetes v1.20 when no cluster is asked (helm template, lint).
      for v in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
        ld+=" -X $v.k8sVersionMajor=1 -X $v.k8sVersionMinor=$K8S_MINOR"
      done ;;
  esac
  echo "$ld"
}

build() { # build MODULE_DIR CGO PACKAGE... (each binary is named after its package's last element)
  local dir=$1 cgo=$2; shift 2
  local ld stamp missing=() pkg
  ld=$(ldflags "$dir")
  # A binary built with other flags (an older recipe) is rebuilt, as a missing one is.
  stamp=$BIN_DIR/.ldflags-$dir
  for pkg in "$@"; do
    [ -x "$BIN_DIR/$(basename "$pkg")" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$ld" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local logfile=$CACHE_DIR/build-$dir.log
  log "Building ${missing[*]##*/} (log: $logfile)"
  mkdir -p "$BIN_DIR.partial"
  if ! (cd "$CLUSTER_SRC/go/$dir" && CGO_ENABLED=$cgo go build -trimpath -ldflags "$ld" \
        -o "$BIN_DIR.partial/" "${missing[@]}") >"$logfile" 2>&1; then
    tail -n 20 "$logfile" >&2
    die "go build of ${missing[*]##*/} failed; log: $logfile"
  fi
  mkdir -p "$BIN_DIR"
  for pkg in "${missing[@]}"; do mv "$BIN_DIR.partial/$(basename "$pkg")" "$BIN_DIR/"; done
}

mkdir -p "$CACHE_DIR/bin"
# Runs started side by side (make up, the chart's tests) wait for one build instead of racing it.
exec 9>"$CACHE_DIR/bin/.build.lock"
flock 9
if [ "${1:-}" = helm ]; then
  build helm 0 helm.sh/helm/v3/cmd/helm
  rmdir "$BIN_DIR.partial" 2>/dev/null || true
  ldflags helm >"$BIN_DIR/.ldflags-helm"
  echo "$BIN_DIR/helm"
  exit 0
fi
build k8s 0 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
# The kubelet links cgo (as upstream builds it) for its host-level helpers.
build k8s 1 k8s.io/kubernetes/cmd/kubelet
build etcd 0 scriptrun.dev/cluster/etcd/etcd
build helm 0 helm.sh/helm/v3/cmd/helm
rmdir "$BIN_DIR.partial" 2>/dev/null || true
# Every binary of each module now has its flags.
for dir in k8s etcd helm; do ldflags "$dir" >"$BIN_DIR/.ldflags-$dir"; done
# A stable path for the Makefile and scripts to put on PATH.
ln -sfn "$BIN_DIR" "$CACHE_DIR/bin/current"
