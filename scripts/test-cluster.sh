#!/usr/bin/env bash
# Runs the real-cluster tests: against $KUBECONFIG when it names a reachable
# cluster, otherwise against the local one, started here and stopped after
# (unless it was already running, or KEEP_CLUSTER=1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

started=0
if cluster_given; then
  log "Using the cluster of KUBECONFIG=$KUBECONFIG"
  kubectl apply -f "$REPO/crds/" >/dev/null
else
  [ -S "$CONTAINERD_SOCK" ] || started=1
  local_cluster_up
fi
pause_dev_processes
stop() {
  if [ $started = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then "$REPO/cluster/down.sh"; else resume_dev_processes; fi
}
trap stop EXIT
cd "$REPO"
npx mocha --timeout 300000 'test/cluster/**/*.test.ts'
