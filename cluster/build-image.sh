#!/usr/bin/env bash
# The local image builder: makes an OCI image from Debian packages and local
# files, with no Docker engine and no registry, and imports it into the local
# node's containerd.
#
#   cluster/build-image.sh RECIPE.env [--no-import] [--out FILE]
#
# A recipe is a shell-sourceable file:
#   IMAGE_NAME=localhost/scriptrun/runner   IMAGE_TAG=test
#   PACKAGES="python3 bubblewrap"           # Debian packages (empty: no base layer)
#   SUITE=bookworm                          # optional, default from versions.env
#   EXCLUDE="/usr/include/*"                # optional: dpkg path-exclude globs, files of the
#                                           # packages left out of the package layer
#   COPY="runner.py:/opt/scriptrun/runner.py"  # SRC:DEST, SRC relative to the recipe;
#                                           # a directory SRC is copied whole to DEST
#   PYC="/opt/scriptrun"                    # optional: directories of copied Python modules to
#                                           # ship compiled (checked-hash .pyc, by this host's python3)
#   USER=65532  WORKDIR=/  ENTRYPOINT='["python3"]'  CMD='[]'  ENV="K=V ..."
# The package layer (mmdebstrap, minutes) is cached under ~/.cache keyed by
# suite and package list; the file layer is remade each time (a tar of the
# copied files: milliseconds for a few scripts, seconds for a node_modules).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

recipe=$(realpath "${1:?usage: build-image.sh RECIPE.env [--no-import] [--out FILE]}"); shift
import=1 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --no-import) import=0 ;;
    --out) out=$2; shift ;;
    *) die "unknown option $1" ;;
  esac
  shift
done

IMAGE_NAME="" IMAGE_TAG="" PACKAGES="" SUITE=$IMAGE_SUITE COPY="" PYC="" USER="" WORKDIR=/ ENTRYPOINT='[]' CMD='[]' ENV="" EXCLUDE=""
# shellcheck disable=SC1090
. "$recipe"
[ -n "$IMAGE_NAME" ] && [ -n "$IMAGE_TAG" ] || die "$recipe must set IMAGE_NAME and IMAGE_TAG"
ref=$IMAGE_NAME:$IMAGE_TAG
recipe_dir=$(dirname "$recipe")
images=$CACHE_DIR/images
mkdir -p "$images"
work=$(mktemp -d "$images/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

layers=()
if [ -n "$PACKAGES" ]; then
  pkgs=$(tr ' ' '\n' <<<"$PACKAGES" | sed '/^$/d' | sort -u | paste -sd, -)
  # The builder's own version is in the key: change how the base is made, bump it. EXCLUDE joins
  # the key only when set, so the layers of recipes without it keep their cached key.
  base=$images/base-$SUITE-$(printf 'v1 %s %s%s' "$SUITE" "$pkgs" "${EXCLUDE:+ exclude $EXCLUDE}" | sha256sum | cut -c1-16).tar
  # read, not a bare $EXCLUDE: the globs are for dpkg, not to be expanded against this host.
  read -ra globs <<<"$EXCLUDE"
  excluded=()
  for glob in "${globs[@]}"; do excluded+=(--dpkgopt="path-exclude=$glob"); done
  if [ ! -f "$base" ]; then
    log "Building the $SUITE package layer for $ref: $pkgs (log: $base.log)"
    security="deb http://deb.debian.org/debian-security $SUITE-security main"
    # Every image runs as the unprivileged uid 65532; give it a name and a home.
    mmdebstrap --variant=essential --format=tar --include="$pkgs" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      "${excluded[@]}" \
      --customize-hook='echo "scriptrun:x:65532:65532:scriptrun:/tmp:/usr/sbin/nologin" >>"$1/etc/passwd"' \
      --customize-hook='echo "scriptrun:x:65532:" >>"$1/etc/group"' \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
      "$SUITE" "$base.partial" "deb http://deb.debian.org/debian $SUITE main" "$security" \
      >"$base.log" 2>&1 || { tail -n 20 "$base.log" >&2; die "mmdebstrap failed for $ref; log: $base.log"; }
    mv "$base.partial" "$base"
  fi
  layers+=("$base")
fi

if [ -n "$COPY" ]; then
  root=$work/root
  for pair in $COPY; do
    src=${pair%%:*} dest=${pair#*:}
    [[ $src == /* ]] || src=$recipe_dir/$src
    [ -e "$src" ] || die "$recipe copies $src, which does not exist"
    if [ -d "$src" ]; then
      mkdir -p "$root$dest" && cp -a "$src/." "$root$dest/"
    else
      install -D -m "$([ -x "$src" ] && echo 755 || echo 644)" "$src" "$root$dest"
    fi
  done
  # A read-only root cannot keep what Python compiles, so without these every run compiled the
  # harness again: about 10 ms of CPU per pod. Checked-hash .pyc hold no time stamps (the same
  # sources give the same layer) and are used only while they match their source. They are named
  # for this host's Python (e.g. cpython-311, as bookworm's): a Python of another version leaves
  # them be.
  for dir in $PYC; do
    [ -d "$root$dir" ] || die "$recipe compiles $dir, which it does not copy"
    python3 -m compileall -q --invalidation-mode checked-hash -s "$root" -p / "$root$dir" >/dev/null \
      || die "compiling the Python modules in $dir failed"
  done
  # Fixed owner and time: the same files give the same layer digest.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$work/files.tar" .
  layers+=("$work/files.tar")
fi
[ ${#layers[@]} -gt 0 ] || die "$recipe has neither PACKAGES nor COPY"

out=${out:-$images/$(tr '/:' '__' <<<"$ref").oci.tar}
env_args=()
for kv in $ENV; do env_args+=(--env "$kv"); done
python3 "$CLUSTER_SRC/lib/oci.py" --name "$ref" --user "$USER" --workdir "$WORKDIR" \
  --entrypoint "$ENTRYPOINT" --cmd "$CMD" "${env_args[@]}" \
  $(printf -- '--layer %s ' "${layers[@]}") --out "$out"

if [ $import = 1 ]; then
  [ -S "$CONTAINERD_SOCK" ] || die "containerd is not running (no $CONTAINERD_SOCK); start the cluster with make up"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$out" >"$work/import.log" 2>&1 \
    || { cat "$work/import.log" >&2; die "importing $ref into containerd failed"; }
  log "Imported $ref"
else
  log "Wrote $out"
fi
