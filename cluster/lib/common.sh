# Shared settings and helpers for the local cluster scripts. Sourced, not run.
# shellcheck shell=bash

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
. "$CLUSTER_SRC/versions.env"

# Slow-to-make things live outside the clone, keyed by version.
CACHE_DIR=${SCRIPTRUN_CACHE_DIR:-$HOME/.cache/scriptrun}
BIN_DIR=$CACHE_DIR/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION
# Everything a running cluster writes: certificates, etcd data, logs, pids.
STATE_DIR=${SCRIPTRUN_CLUSTER_DIR:-/var/lib/scriptrun-cluster}
LOG_DIR=$STATE_DIR/logs
RUN_DIR=$STATE_DIR/run
KUBECONFIG_PATH=$STATE_DIR/admin.kubeconfig

NODE_NAME=scriptrun-node
API_PORT=6443
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.88.0.0/16
CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for DESCRIPTION SECONDS LOGFILE CMD...: poll CMD until it succeeds, or
# stop naming what did not come up and where its log is.
wait_for() {
  local what=$1 secs=$2 logfile=$3; shift 3
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  [ -f "$logfile" ] && tail -n 20 "$logfile" >&2
  die "$what did not come up within ${secs}s; log: $logfile"
}

# pinned_version NAME MODULE: the version of MODULE that cluster/go/NAME/go.mod requires on a
# `require` line of its own.
pinned_version() {
  local version
  version=$(awk -v module="$2" '$1 == "require" && $2 == module { print $3 }' "$CLUSTER_SRC/go/$1/go.mod")
  [ -n "$version" ] || die "no $2 version in $CLUSTER_SRC/go/$1/go.mod"
  echo "$version"
}

# cached_go_tool NAME VERSION PACKAGE [GO BUILD FLAGS...]: prints the path of the command NAME, built
# from PACKAGE with the modules cluster/go/NAME/go.mod pins into a cache keyed by VERSION; builds it
# first when that version is not there yet (once per machine).
cached_go_tool() {
  local name=$1 version=$2 package=$3
  shift 3
  local dir=$CACHE_DIR/bin/$name-$version
  if [ ! -x "$dir/$name" ]; then
    mkdir -p "$CACHE_DIR/bin"
    # Runs started side by side wait for one build instead of racing it.
    exec 9>"$CACHE_DIR/bin/.$name.lock"
    flock 9
  fi
  if [ ! -x "$dir/$name" ]; then
    command -v go >/dev/null || die "go is not installed; $name is built with it"
    local logfile=$CACHE_DIR/build-$name.log
    log "Building $name $version (log: $logfile)"
    mkdir -p "$dir.partial"
    if ! (cd "$CLUSTER_SRC/go/$name" && CGO_ENABLED=0 go build -trimpath "$@" -o "$dir.partial/" "$package") >"$logfile" 2>&1; then
      tail -n 20 "$logfile" >&2
      die "go build of $name failed; log: $logfile"
    fi
    mkdir -p "$dir"
    mv "$dir.partial/$name" "$dir/$name"
    rmdir "$dir.partial"
  fi
  echo "$dir/$name"
}
