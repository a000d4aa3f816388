#!/usr/bin/env bash
# Runs the real-cluster tests (test/cluster/) and the Helm end-to-end test
# (test/e2e/): against $KUBECONFIG when it names a reachable cluster (whose nodes
# must have the runner and operator images), otherwise against the local one,
# started here with both images and stopped after (unless it was already
# running, or KEEP_CLUSTER=1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

started=0
if cluster_given; then
  log "Using the cluster of KUBECONFIG=$KUBECONFIG"
  apply_crds_and_runtimes
else
  [ -S "$CONTAINERD_SOCK" ] || started=1
  local_cluster_up
  # The Helm e2e runs the controller and API from their image.
  "$REPO/scripts/build-images.sh"
fi
pause_dev_processes
stop() {
  if [ $started = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then "$REPO/cluster/down.sh"; else resume_dev_processes; fi
}
trap stop EXIT
cd "$REPO"
npx mocha --timeout 300000 'test/cluster/**/*.test.ts' 'test/e2e/**/*.test.ts'
