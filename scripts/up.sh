#!/usr/bin/env bash
# `make up`: the local cluster, the runner test image, the CRD, then the
# controller as a host process (log under the cluster's state directory),
# ready for `kubectl apply` of a ScriptRun. Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

local_cluster_up
cd "$REPO"
npm run --silent build

# serve NAME CMD...: start a dev process unless it runs.
serve() {
  local name=$1; shift
  local pid
  pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && return 0
  log "Starting $name (log: $LOG_DIR/$name.log)"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}
serve scriptrun-controller env SCRIPTRUN_RUNNER_PATH="$REPO/images/runner/runner.py" \
  SCRIPTRUN_LEASE_NAMESPACE=default node dist/operator/main.js
wait_for "the controller" 60 "$LOG_DIR/scriptrun-controller.log" curl -fsS http://127.0.0.1:9090/healthz
log "Ready: export KUBECONFIG=$KUBECONFIG_PATH PATH=$CACHE_DIR/bin/current:\$PATH"
log "then: kubectl apply -f examples/hello.yaml && kubectl get sr"
