#!/usr/bin/env bash
# `make up`: the local cluster, the runner test image, the CRD, then the
# controller and the API as host processes (logs under the cluster's state
# directory), ready for `kubectl apply` of a ScriptRun and `curl /execute`.
# Idempotent. The API listens on 127.0.0.1 only, without authentication.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

local_cluster_up
cd "$REPO"
npm run --silent build

# serve NAME CMD...: start a dev process unless it runs.
serve() {
  local name=$1; shift
  dev_running "$name" && return 0
  log "Starting $name (log: $LOG_DIR/$name.log)"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}
# The heap limit is the chart's default (heapLimitMiB).
serve scriptrun-controller env SCRIPTRUN_RUNNER_PATH="$REPO/images/runner/runner.py" \
  SCRIPTRUN_LEASE_NAMESPACE=default node --max-old-space-size=384 dist/operator/main.js
wait_for "the controller" 60 "$LOG_DIR/scriptrun-controller.log" curl -fsS http://127.0.0.1:9090/healthz
serve scriptrun-api env SCRIPTRUN_API_AUTH=none SCRIPTRUN_API_HOST=127.0.0.1 SCRIPTRUN_API_PORT=8080 \
  SCRIPTRUN_RUNNER_PATH="$REPO/images/runner/runner.py" node --max-old-space-size=384 dist/api/main.js
wait_for "the API" 60 "$LOG_DIR/scriptrun-api.log" curl -fsS http://127.0.0.1:8080/readyz
log "Ready: export KUBECONFIG=$KUBECONFIG_PATH PATH=$CACHE_DIR/bin/current:\$PATH"
log "then: kubectl apply -f examples/hello.yaml && kubectl get sr"
log "  or: open http://127.0.0.1:8080/ (the playground)"
log "  or: curl -s localhost:8080/execute -H 'content-type: application/json' -d '{\"script\": \"def main():\\n    return 42\"}'"
