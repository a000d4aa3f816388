# Shared by the scripts/: where things are, and how to start a dev process. Sourced.
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/cluster/lib/common.sh"
export PATH=$CACHE_DIR/bin/current:$PATH
RUNNER_RECIPE=$REPO/images/runner/local-image.env

# cluster_given: true when KUBECONFIG names a cluster that answers (kind, k3d, a
# real one), which is then used instead of the local one.
cluster_given() {
  [ -n "${KUBECONFIG:-}" ] && [ "$KUBECONFIG" != "$KUBECONFIG_PATH" ] \
    && kubectl get --raw /readyz >/dev/null 2>&1
}

# local_cluster_up: the local cluster, the runner test image and the CRD.
local_cluster_up() {
  "$REPO/cluster/up.sh"
  export KUBECONFIG=$KUBECONFIG_PATH
  "$REPO/cluster/build-image.sh" "$RUNNER_RECIPE"
  kubectl apply -f "$REPO/crds/" >/dev/null
  kubectl wait --for=condition=Established crd/scriptruns.scriptrun.dev --timeout=60s >/dev/null
}

# The dev processes `make up` starts on the host, in start order.
DEV_PROCESSES=(scriptrun-controller scriptrun-api)

# dev_running NAME: true when `make up`'s process NAME runs.
dev_running() {
  local pid
  pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# stop_dev_processes: stops what `make up` started on the host (not the cluster).
stop_dev_processes() {
  local name pid
  for name in "${DEV_PROCESSES[@]}"; do
    pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -f "$RUN_DIR/$name.pid"
  done
}

# pause_dev_processes: tests and benchmarks start controllers of their own, which would fight
# `make up`'s controller (it watches every namespace) over the same runs. Stops it for the caller
# and starts it again when the caller exits.
pause_dev_processes() {
  dev_running scriptrun-controller || return 0
  log "Pausing the controller and API of 'make up' while this runs; they restart after"
  stop_dev_processes
  DEV_PAUSED=1
}
resume_dev_processes() {
  if [ "${DEV_PAUSED:-0}" = 1 ]; then "$REPO/scripts/up.sh"; fi
}
