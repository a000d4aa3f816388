#!/usr/bin/env bash
# `make up`: the local cluster, the runner test image, the CRD, then the
# controller and the API as host processes (logs under the cluster's state
# directory), ready for `curl 127.0.0.1:8080/execute`. Idempotent.
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
  node dist/operator/main.js
# Local use only: no tokens are checked (the API logs a warning saying so).
serve scriptrun-api env SCRIPTRUN_API_AUTH=none SCRIPTRUN_RUNNER_PATH="$REPO/images/runner/runner.py" \
  node dist/api/main.js
wait_for "the API on 127.0.0.1:8080" 60 "$LOG_DIR/scriptrun-api.log" curl -fsS http://127.0.0.1:8080/readyz
log "Ready: curl -s 127.0.0.1:8080/execute -H 'content-type: application/json' -d '{\"script\": \"def main(): return 42\"}'"
log "kubectl: export KUBECONFIG=$KUBECONFIG_PATH PATH=$CACHE_DIR/bin/current:\$PATH"
