#!/usr/bin/env bash
# `make scale`: 10 000 ScriptRuns through the real controller and API onto 100 nodes simulated by
# kwok, and 1 000 callers waiting on /execute at once (bench/README.md, "make scale"). Like
# `make bench`: the local cluster (or the one of KUBECONFIG), `make up`'s controller and API paused
# meanwhile, dist/ built; SCALE_* variables choose how much.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench_prelude
# Built before the clock starts (once per machine).
cluster/lib/kwok.sh >/dev/null
npx tsx bench/scale/run.ts
