# Shared by the scripts/: where things are, and how to start a dev process. Sourced.
# shellcheck shell=bash
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/cluster/lib/common.sh"
export PATH=$CACHE_DIR/bin/current:$PATH
RUNNER_RECIPES=("$REPO/images/runner/local-image.env" "$REPO/images/runner/datascience-image.env")

# cluster_given: true when KUBECONFIG names a cluster that answers (kind, k3d, a
# real one), which is then used instead of the local one.
cluster_given() {
  [ -n "${KUBECONFIG:-}" ] && [ "$KUBECONFIG" != "$KUBECONFIG_PATH" ] \
    && kubectl get --raw /readyz >/dev/null 2>&1
}

# build_runner_image RECIPE: builds and imports RECIPE's image unless containerd has it from the
# same inputs; the datascience image is most of a gigabyte to hash and import on every make up.
build_runner_image() {
  local recipe=$1 ref inputs stamp
  ref=$(. "$recipe" && echo "$IMAGE_NAME:$IMAGE_TAG")
  inputs=$(cat "$REPO"/images/runner/*.env "$REPO"/images/runner/*.py "$REPO/cluster/build-image.sh" \
    "$REPO/cluster/lib/oci.py" "$REPO/cluster/versions.env" | sha256sum | cut -c1-16)
  stamp=$CACHE_DIR/images/$(tr '/:' '__' <<<"$ref").imported
  if [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ] \
    && [ -n "$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q "name==$ref")" ]; then
    return 0
  fi
  rm -f "$stamp"
  "$REPO/cluster/build-image.sh" "$recipe"
  echo "$inputs" >"$stamp"
}

# apply_crds_and_runtimes: the CRDs, then the runtimes python (the default) and python-datascience.
apply_crds_and_runtimes() {
  kubectl apply -f "$REPO/crds/" >/dev/null
  # A ScriptRuntime is refused until its CRD is served.
  kubectl wait --for=condition=Established crd/scriptruns.scriptrun.dev crd/scriptruntimes.scriptrun.dev --timeout=60s >/dev/null
  kubectl apply -f "$REPO/cluster/runtimes/" >/dev/null
}

# local_cluster_up: the local cluster, the runner images, the CRDs and the runtimes.
local_cluster_up() {
  "$REPO/cluster/up.sh"
  export KUBECONFIG=$KUBECONFIG_PATH
  local recipe
  for recipe in "${RUNNER_RECIPES[@]}"; do build_runner_image "$recipe"; done
  apply_crds_and_runtimes
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

# bench_prelude: what `make bench` and `make scale` measure on: the cluster of KUBECONFIG when it
# names a reachable one (the CRDs applied), else the local one brought up; `make up`'s controller
# and API paused until the caller exits (they would act on its runs too); dist/ built, to run as
# production does. Leaves the caller in the repository.
bench_prelude() {
  if cluster_given; then
    log "Using the cluster of KUBECONFIG=$KUBECONFIG"
    kubectl apply -f "$REPO/crds/" >/dev/null
  else
    local_cluster_up
  fi
  pause_dev_processes
  trap resume_dev_processes EXIT
  cd "$REPO"
  npm run --silent build
}
