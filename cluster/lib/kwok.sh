#!/usr/bin/env bash
# Prints the path of kwok, which plays the kubelet of the fake nodes of `make scale`, built from
# the kwok Go module pinned in cluster/go/kwok/go.mod into a cache keyed by its version; builds it
# first when that version is not there yet (about 2 minutes on 2 cores, once per machine).
set -euo pipefail
. "$(dirname "$0")/common.sh"

version=$(pinned_version kwok sigs.k8s.io/kwok)
cached_go_tool kwok "$version" sigs.k8s.io/kwok/cmd/kwok -ldflags "-s -w"
