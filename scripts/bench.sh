#!/usr/bin/env bash
# `make bench`: the benchmark (bench/README.md) on the local real cluster, or on the cluster of
# KUBECONFIG when it names a reachable one. The bench starts a controller and an API of its own,
# built from this checkout; `make up`'s would act on the bench's runs too, so they are paused
# meanwhile. BENCH_QUICK=1 and the other BENCH_* variables choose how much is measured.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench_prelude
npx tsx bench/run.ts
