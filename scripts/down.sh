#!/usr/bin/env bash
# `make down`: the controller and API, then the local cluster (cluster/down.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
stop_dev_processes
"$REPO/cluster/down.sh"
