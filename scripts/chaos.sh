#!/usr/bin/env bash
# `make chaos`: the chaos suite (test/chaos/README.md) on the local real cluster, started here if it
# is not running. The suite starts controllers and APIs of its own, built from this checkout;
# `make up`'s would act on its runs too, so they are paused meanwhile. It stops cluster components
# and starts them again with cluster/up.sh; whatever happens (a failure, Ctrl-C), every component
# is started again and `make up`'s processes resumed on the way out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if cluster_given; then
  die "make chaos stops and restarts the local cluster's components; it does not run against KUBECONFIG=$KUBECONFIG"
fi
local_cluster_up
pause_dev_processes
restore() {
  "$REPO/cluster/up.sh" >/dev/null 2>&1 || log "cluster/up.sh failed while restoring the cluster; run make up"
  resume_dev_processes
}
trap restore EXIT
cd "$REPO"
npm run --silent build
npx tsx test/chaos/main.ts
