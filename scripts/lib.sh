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
