#!/usr/bin/env bash
# Builds the cluster's binaries from their upstream Go modules (pinned in
# cluster/go/*/go.mod) into a cache keyed by version. A second run is a no-op.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v go >/dev/null || die "go is not installed; the cluster binaries are built with it"

build() { # build MODULE_DIR CGO PACKAGE... (each binary is named after its package's last element)
  local dir=$1 cgo=$2; shift 2
  local missing=() pkg
  for pkg in "$@"; do [ -x "$BIN_DIR/$(basename "$pkg")" ] || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local ld="-s -w"
  case $dir in
    k8s) local v
      for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1"
        ld+=" -X $v.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $v.gitTreeState=clean"
      done ;;
    helm) ld+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
  esac
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

mkdir -p "$CACHE_DIR"
build k8s 0 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
# The kubelet links cgo (as upstream builds it) for its host-level helpers.
build k8s 1 k8s.io/kubernetes/cmd/kubelet
build etcd 0 scriptrun.dev/cluster/etcd/etcd
build helm 0 helm.sh/helm/v3/cmd/helm
rmdir "$BIN_DIR.partial" 2>/dev/null || true
# A stable path for the Makefile and scripts to put on PATH.
ln -sfn "$BIN_DIR" "$CACHE_DIR/bin/current"
