#!/usr/bin/env bash
# Builds the controller and API image, localhost/scriptrun/operator:test, and imports it into the
# local node's containerd (the runner image comes from local_cluster_up):
#
#   scripts/build-images.sh                       # build and import; nothing to do when unchanged
#   scripts/build-images.sh --no-import --out F   # write the OCI archive F, for another cluster
#
# Stages what images/operator/local-image.env copies: dist/ compiled by tsc from core/, operator/, api/
# and crds/, with dist/public (the playground page, bundled by playground/build.ts), and the
# production node_modules (`npm ci --omit=dev`, cached by the hash of package.json and
# package-lock.json), then runs cluster/build-image.sh. An import is skipped
# when the image is in containerd and none of its inputs changed since it was imported.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RECIPE=$REPO/images/operator/local-image.env
REF=localhost/scriptrun/operator:test
STAGE=$CACHE_DIR/stage/operator
STAMP=$STAGE.imported

cd "$REPO"
inputs=$(find core operator api crds playground images/operator images/runner/*.py cluster/build-image.sh cluster/lib/oci.py \
  package.json package-lock.json tsconfig.json -type f ! -name '*.test.ts' -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)

image_present() {
  [ -S "$CONTAINERD_SOCK" ] && [ -n "$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q "name==$REF")" ]
}
if [ $# -eq 0 ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$inputs" ] && image_present; then
  log "$REF is up to date"
  exit 0
fi

mkdir -p "$STAGE"
deps_key=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
deps=$CACHE_DIR/node-prod/$deps_key
if [ ! -d "$deps/node_modules" ]; then
  log "Installing the production node_modules ($deps)"
  rm -rf "$CACHE_DIR/node-prod" && mkdir -p "$deps.partial"
  cp package.json package-lock.json "$deps.partial/"
  # No install scripts: the production dependencies are plain JavaScript.
  (cd "$deps.partial" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  mv "$deps.partial" "$deps"
fi
ln -sfn "$deps/node_modules" "$STAGE/node_modules"

log "Compiling dist/ for $REF"
rm -rf "$STAGE/dist.partial"
npx tsc -p images/operator/tsconfig.json --outDir "$STAGE/dist.partial"
npx tsx playground/build.ts "$STAGE/dist.partial/public"
rm -rf "$STAGE/dist" && mv "$STAGE/dist.partial" "$STAGE/dist"

rm -f "$STAMP"
"$REPO/cluster/build-image.sh" "$RECIPE" "$@"
if [ $# -eq 0 ]; then echo "$inputs" >"$STAMP"; fi
