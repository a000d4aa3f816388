#!/usr/bin/env bash
# Prints the path of kwok, which plays the kubelet of the fake nodes of `make scale`, built from
# the kwok Go module pinned in cluster/go/kwok/go.mod into a cache keyed by its version; builds it
# first when that version is not there yet (about 2 minutes on 2 cores, once per machine).
set -euo pipefail
. "$(dirname "$0")/common.sh"

src=$CLUSTER_SRC/go/kwok
version=$(awk '$1 == "require" && $2 == "sigs.k8s.io/kwok" { print $3 }' "$src/go.mod")
[ -n "$version" ] || die "no sigs.k8s.io/kwok version in $src/go.mod"
dir=$CACHE_DIR/bin/kwok-$version
if [ ! -x "$dir/kwok" ]; then
  mkdir -p "$CACHE_DIR/bin"
  # Runs started side by side wait for one build instead of racing it.
  exec 9>"$CACHE_DIR/bin/.kwok.lock"
  flock 9
fi
if [ ! -x "$dir/kwok" ]; then
  command -v go >/dev/null || die "go is not installed; kwok is built with it"
  logfile=$CACHE_DIR/build-kwok.log
  log "Building kwok $version (log: $logfile)"
  mkdir -p "$dir.partial"
  if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
        -o "$dir.partial/" sigs.k8s.io/kwok/cmd/kwok) >"$logfile" 2>&1; then
    tail -n 20 "$logfile" >&2
    die "go build of kwok failed; log: $logfile"
  fi
  mkdir -p "$dir"
  mv "$dir.partial/kwok" "$dir/kwok"
  rmdir "$dir.partial"
fi
echo "$dir/kwok"
