#!/usr/bin/env bash
# Prints the path of promtool, the checker of Prometheus rule files, built from the Prometheus
# Go module pinned in cluster/go/promtool/go.mod into a cache keyed by its version; builds it
# first when that version is not there yet (about 3 minutes on 2 cores, once per machine). The
# chart's alert tests run it (test/monitoring.test.ts).
set -euo pipefail
. "$(dirname "$0")/common.sh"

version=$(pinned_version promtool github.com/prometheus/prometheus)
# What `promtool --version` says: module v0.316.0 is Prometheus 3.16.0. The tag leaves out the
# service discovery plugins, which the rule commands do not use.
cached_go_tool promtool "$version" github.com/prometheus/prometheus/cmd/promtool \
  -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=3.${version#v0.3}"
