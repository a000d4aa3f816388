#!/usr/bin/env bash
# Prints the path of promtool, the checker of Prometheus rule files, built from the Prometheus
# Go module pinned in cluster/go/promtool/go.mod into a cache keyed by its version; builds it
# first when that version is not there yet (about 3 minutes on 2 cores, once per machine). The
# chart's alert tests run it (test/monitoring.test.ts).
set -euo pipefail
. "$(dirname "$0")/common.sh"

src=$CLUSTER_SRC/go/promtool
version=$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" { print $3 }' "$src/go.mod")
[ -n "$version" ] || die "no github.com/prometheus/prometheus version in $src/go.mod"
dir=$CACHE_DIR/bin/promtool-$version
if [ ! -x "$dir/promtool" ]; then
  mkdir -p "$CACHE_DIR/bin"
  # Test runs started side by side wait for one build instead of racing it.
  exec 9>"$CACHE_DIR/bin/.promtool.lock"
  flock 9
fi
if [ ! -x "$dir/promtool" ]; then
  command -v go >/dev/null || die "go is not installed; promtool is built with it"
  logfile=$CACHE_DIR/build-promtool.log
  log "Building promtool $version (log: $logfile)"
  mkdir -p "$dir.partial"
  # What `promtool --version` says: module v0.316.0 is Prometheus 3.16.0.
  ld="-s -w -X github.com/prometheus/common/version.Version=3.${version#v0.3}"
  if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -tags remove_all_sd -ldflags "$ld" \
        -o "$dir.partial/" github.com/prometheus/prometheus/cmd/promtool) >"$logfile" 2>&1; then
    tail -n 20 "$logfile" >&2
    die "go build of promtool failed; log: $logfile"
  fi
  mkdir -p "$dir"
  mv "$dir.partial/promtool" "$dir/promtool"
  rmdir "$dir.partial"
fi
echo "$dir/promtool"
