#!/usr/bin/env bash
# `make down`: the controller, then the local cluster (cluster/down.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
for name in scriptrun-controller; do
  pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null) || continue
  kill "$pid" 2>/dev/null || true
done
"$REPO/cluster/down.sh"
