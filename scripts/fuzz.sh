#!/usr/bin/env bash
# `make fuzz` (and, short, `make test-unit`): schemathesis against the API's own /openapi.json.
# The API runs in process without a cluster (test/fuzz/server.ts: the unit tests' app, with the
# in-memory run store, the real preflight and Kubernetes-style auth on), so the run is fast and
# needs nothing but Node and Python. It fails on any 5xx, on an answer that does not match the
# document, and on a request the document calls valid that the API refuses.
#
#   FUZZ_EXAMPLES   test cases per operation (default 30; `make fuzz` asks for more)
#   FUZZ_SEED       the generator's seed (default fixed, so CI runs are repeatable; "random" for a new one)
#   FUZZ_MAX_SECONDS  the whole run is stopped, and fails, past this (default 600)
#   FUZZ_WORKERS    concurrent workers (default 1: hypothesis 6 trips over its own caches with more, a runtime error of the fuzzer, not of the API)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCHEMATHESIS_VERSION=4.32.5
CACHE=${SCRIPTRUN_CACHE_DIR:-$HOME/.cache/scriptrun}
VENV=$CACHE/venv-schemathesis-$SCHEMATHESIS_VERSION
EXAMPLES=${FUZZ_EXAMPLES:-30}
SEED=${FUZZ_SEED:-20261201}
MAX_SECONDS=${FUZZ_MAX_SECONDS:-600}
WORKERS=${FUZZ_WORKERS:-1}

log() { echo "fuzz: $*" >&2; }

# The venv is built once per version; the marker says it was built whole (pip can stop halfway).
if [ ! -e "$VENV/.complete" ]; then
  log "Installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  mkdir -p "$CACHE"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  touch "$VENV/.complete"
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A token made up for this run: the server accepts it and nothing else.
FUZZ_TOKEN=fuzz-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export FUZZ_TOKEN
cd "$REPO"
# node directly (not through npx), so that $SERVER_PID is the server and a kill stops it.
node --import tsx test/fuzz/server.ts >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=
for _ in $(seq 1 150); do
  URL=$(sed -n 's/^LISTENING //p' "$WORK/server.log")
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  log "The API did not start:"
  cat "$WORK/server.log" >&2
  exit 1
fi
log "API at $URL; $EXAMPLES examples per operation, seed $SEED"

seed=()
[ "$SEED" != random ] && seed=(--seed "$SEED")
status=0
# From the scratch directory, where schemathesis may leave its files; the hooks teach it the document's text/plain.
cd "$WORK"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=$REPO/test/fuzz timeout --signal=INT --kill-after=10 "$MAX_SECONDS" \
  "$VENV/bin/schemathesis" --config-file "$REPO/test/fuzz/schemathesis.toml" run "$URL/openapi.json" \
    --header "Authorization: Bearer $FUZZ_TOKEN" \
    --checks not_a_server_error,response_schema_conformance,positive_data_acceptance \
    --max-examples "$EXAMPLES" "${seed[@]}" \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --generation-database none \
    --no-color || status=$?
if [ "$status" -eq 124 ]; then log "Stopped after $MAX_SECONDS s"; fi
exit "$status"
